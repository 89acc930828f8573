from django.urls import path

from apps.monitoring.api.views import SeriesView

urlpatterns = [
    path(
        "monitoring/deployments/<int:pk>/series/",
        SeriesView.as_view(),
        name="api-monitoring-series",
    ),
]

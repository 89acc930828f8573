from django.urls import path

from apps.analytics.api.views import ChangeAnalyticsView, DeliveryView

urlpatterns = [
    path("analytics/changes/", ChangeAnalyticsView.as_view(), name="api-analytics-changes"),
    path("analytics/delivery/", DeliveryView.as_view(), name="api-analytics-delivery"),
]

from django.urls import path

from apps.monitoring import views

app_name = "monitoring"

urlpatterns = [
    path("", views.Portfolio.as_view(), name="portfolio"),
    path("deployments/<int:pk>/", views.DeploymentMonitoring.as_view(), name="deployment"),
    path(
        "deployments/<int:pk>/logs.parquet",
        views.ExportLogs.as_view(),
        name="export-logs",
    ),
    path("alerts/", views.AlertList.as_view(), name="alerts"),
    path(
        "alerts/<int:pk>/acknowledge/",
        views.AcknowledgeAlert.as_view(),
        name="alert-acknowledge",
    ),
    path("alerts/<int:pk>/resolve/", views.ResolveAlert.as_view(), name="alert-resolve"),
]

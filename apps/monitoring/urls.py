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
    path("reviews/<int:pk>/decide/", views.DecideReview.as_view(), name="review-decide"),
    path("policies/", views.PolicyList.as_view(), name="policies"),
    path("policies/models/<slug:slug>/", views.PolicyEdit.as_view(), name="model-policy-edit"),
    path(
        "policies/models/<slug:slug>/remove/",
        views.RemoveModelPolicy.as_view(),
        name="model-policy-remove",
    ),
    path("policies/<slug:tier>/", views.PolicyEdit.as_view(), name="policy-edit"),
    path(
        "alerts/<int:pk>/acknowledge/",
        views.AcknowledgeAlert.as_view(),
        name="alert-acknowledge",
    ),
    path("alerts/<int:pk>/resolve/", views.ResolveAlert.as_view(), name="alert-resolve"),
]

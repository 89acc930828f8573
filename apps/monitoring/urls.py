from django.urls import path

from apps.monitoring import views

app_name = "monitoring"

urlpatterns = [
    path("", views.Portfolio.as_view(), name="portfolio"),
    path("deployments/<int:pk>/", views.DeploymentMonitoring.as_view(), name="deployment"),
]

from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.deployments.api import views

router = SimpleRouter()
router.register("deployments", views.DeploymentViewSet, basename="deployment")
router.register("serving-keys", views.ServingKeyViewSet, basename="serving-key")

urlpatterns = [
    path("environments/", views.EnvironmentView.as_view(), name="api-environments"),
    *router.urls,
]

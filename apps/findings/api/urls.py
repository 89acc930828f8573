from rest_framework.routers import SimpleRouter

from apps.findings.api.views import FindingViewSet

router = SimpleRouter()
router.register("findings", FindingViewSet, basename="api-finding")

urlpatterns = router.urls

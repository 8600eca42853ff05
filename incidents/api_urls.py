"""REST API routes of the incidents app, included under /api/v1/ by wiring/api_urls.py."""
from rest_framework.routers import SimpleRouter

from .api import IncidentViewSet

router = SimpleRouter()
router.register("incidents", IncidentViewSet, basename="incident")
urlpatterns = router.urls

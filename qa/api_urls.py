"""REST API routes of the qa app, included under /api/v1/ by wiring/api_urls.py."""
from rest_framework.routers import SimpleRouter

from .api import ReviewViewSet

router = SimpleRouter()
router.register("qa/reviews", ReviewViewSet, basename="qa-review")

urlpatterns = router.urls

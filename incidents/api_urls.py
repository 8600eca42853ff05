"""REST API routes of the incidents app, included under /api/v1/ by helpdesk/api_urls.py."""
urlpatterns: list = []

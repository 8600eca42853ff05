"""REST API routes of the knowledge app, included under /api/v1/ by helpdesk/api_urls.py."""
urlpatterns: list = []

"""REST API routes of the mailgate app, included under /api/v1/ by helpdesk/api_urls.py."""
urlpatterns: list = []

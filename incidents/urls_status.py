"""Public status page of the incidents app (mounted at /status/ by wiring/urls.py)."""
from django.urls import path

from . import views_status

app_name = "status"
urlpatterns = [
    path("", views_status.status_page, name="page"),
    path("feed/", views_status.feed, name="feed"),
    path("incidents/<int:pk>/", views_status.incident, name="incident"),
]

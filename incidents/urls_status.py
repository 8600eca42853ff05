"""Public status page of the incidents app (mounted at /status/ by helpdesk/urls.py)."""
from django.urls import path  # noqa: F401

app_name = "status"
urlpatterns: list = []

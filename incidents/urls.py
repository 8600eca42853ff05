"""Web pages of the incidents app (mounted by helpdesk/urls.py)."""
from django.urls import path  # noqa: F401

app_name = "incidents"
urlpatterns: list = []

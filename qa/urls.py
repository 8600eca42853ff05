"""Web pages of the qa app (mounted by helpdesk/urls.py)."""
from django.urls import path  # noqa: F401

app_name = "qa"
urlpatterns: list = []

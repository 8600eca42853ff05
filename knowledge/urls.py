"""Web pages of the knowledge app (mounted by helpdesk/urls.py)."""
from django.urls import path  # noqa: F401

app_name = "knowledge"
urlpatterns: list = []

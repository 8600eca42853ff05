"""Web pages of the casework app (mounted by helpdesk/urls.py)."""
from django.urls import path  # noqa: F401

app_name = "casework"
urlpatterns: list = []

"""Web pages of the mailgate app (mounted by helpdesk/urls.py)."""
from django.urls import path  # noqa: F401

app_name = "mailgate"
urlpatterns: list = []

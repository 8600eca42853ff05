"""Capacity pages of the workforce app (mounted at /workforce/capacity/)."""
from django.urls import path

from . import views_capacity

app_name = "workforce_capacity"

urlpatterns = [
    path("", views_capacity.dashboard, name="dashboard"),
]

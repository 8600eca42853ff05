"""SLA pages of the agent workspace (mounted at /sla/, namespace "sla")."""
from django.urls import path
from django.views.generic import RedirectView

from . import views

app_name = "sla"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="sla:dashboard"), name="index"),
    path("approaching/", views.approaching, name="approaching"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("paused/", views.paused, name="paused"),
    path("clocks/<int:pk>/exempt/", views.exempt, name="exempt"),
]

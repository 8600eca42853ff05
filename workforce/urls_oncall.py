"""On-call pages of the agent workspace (mounted at /workforce/oncall/)."""
from django.urls import path

from . import views_oncall

app_name = "workforce_oncall"

urlpatterns = [
    path("", views_oncall.rotations, name="rotations"),
    path("<int:pk>/", views_oncall.rotation, name="rotation"),
    path("<int:pk>/overrides/", views_oncall.add_override, name="add_override"),
    path("<int:pk>/swap/", views_oncall.swap, name="swap"),
    path("<int:pk>/overrides/<int:override_pk>/delete/", views_oncall.remove_override,
         name="remove_override"),
    path("<int:pk>/oncall.ics", views_oncall.ical, name="ical"),
    path("pages/<int:page_pk>/acknowledge/", views_oncall.acknowledge, name="acknowledge"),
]

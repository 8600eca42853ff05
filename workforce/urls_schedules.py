"""Schedule pages of the agent workspace (mounted at /workforce/schedules/)."""
from django.urls import path

from . import views_schedules as views

app_name = "workforce_schedules"

urlpatterns = [
    path("", views.index, name="index"),
    path("status/", views.my_status, name="my_status"),
    path("time-off/", views.time_off, name="time_off"),
    path("time-off/<int:pk>/decide/", views.decide_time_off, name="decide_time_off"),
    path("teams/<slug:slug>/", views.week, name="week"),
    path("teams/<slug:slug>/add/", views.add_shift, name="add_shift"),
    path("teams/<slug:slug>/adherence/", views.adherence, name="adherence"),
]

"""Support metrics dashboards (mounted at /metrics/, namespace "metrics")."""
from django.urls import path

from . import views as metrics

app_name = "metrics"

urlpatterns = [
    path("", metrics.mine, name="mine"),
    path("team/", metrics.team, name="team"),
    path("manager/", metrics.manager, name="manager"),
    path("manager/medians/", metrics.manager_medians, name="manager_medians"),
]

"""Web pages of the mailgate app (mounted by wiring/urls.py)."""
from django.urls import path

from . import views

app_name = "mailgate"
urlpatterns: list = [
    path("inbound/<slug:name>/", views.inbound, name="inbound"),
    path("outbound/<int:pk>/retry/", views.retry, name="retry"),
    path("bounces/<int:pk>/clear/", views.clear_bounce, name="clear_bounce"),
    path("preferences/", views.preferences, name="preferences"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]

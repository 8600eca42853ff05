"""Web pages of the incidents app (mounted at /incidents/ by wiring/urls.py)."""
from django.urls import path

from . import views

app_name = "incidents"
urlpatterns = [
    path("", views.incident_list, name="list"),
    path("declare/", views.declare, name="declare"),
    path("from-queue/", views.bulk_from_queue, name="bulk_declare"),
    path("actions/", views.actions, name="actions"),
    path("actions/<int:action_pk>/state/", views.action_state, name="action_state"),
    path("ticket/<int:ticket_pk>/link/", views.link_from_ticket, name="link_from_ticket"),
    path("<int:pk>/", views.room, name="room"),
    path("<int:pk>/live/", views.room_live, name="room_live"),
    path("<int:pk>/entries/", views.add_entry, name="add_entry"),
    path("<int:pk>/status/", views.change_status, name="status"),
    path("<int:pk>/severity/", views.change_severity, name="severity"),
    path("<int:pk>/roles/", views.assign_role, name="assign_role"),
    path("<int:pk>/roles/<int:role_pk>/remove/", views.remove_role, name="remove_role"),
    path("<int:pk>/link/", views.link, name="link"),
    path("<int:pk>/unlink/<int:ticket_pk>/", views.unlink, name="unlink"),
    path("<int:pk>/suggestions/<int:suggestion_pk>/", views.suggestion, name="suggestion"),
    path("<int:pk>/updates/", views.publish, name="publish"),
    path("<int:pk>/resolve/", views.resolve, name="resolve"),
    path("<int:pk>/review/", views.review, name="review"),
    path("<int:pk>/review/actions/", views.add_action, name="add_action"),
]

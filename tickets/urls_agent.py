"""URLs of the agent workspace (mounted at /agent/, namespace "agent")."""
from django.urls import path

from .views import agent

app_name = "agent"
urlpatterns = [
    path("", agent.index, name="index"),
    path("queue/counts/", agent.queue_nav, name="queue_nav"),
    path("queue/columns/", agent.queue_columns, name="queue_columns"),
    path("queue/bulk/", agent.bulk, name="bulk"),
    path("queue/<str:name>/", agent.queue_view, name="queue"),
    path("queue/<str:name>/export.csv", agent.queue_export, name="queue_export"),
    path("queue/<str:name>/save-filter/", agent.save_filter, name="saved_filter"),
    path("tickets/new/", agent.new_ticket, name="new_ticket"),
    path("tickets/new/fields/", agent.new_ticket_fields, name="new_ticket_fields"),
    path("tickets/<int:pk>/", agent.ticket_view, name="ticket"),
    path("tickets/<int:pk>/conversation/", agent.conversation_view, name="conversation"),
    path("tickets/<int:pk>/reply/", agent.reply, name="reply"),
    path("tickets/<int:pk>/transition/", agent.transition, name="transition"),
    path("tickets/<int:pk>/update/", agent.update, name="update"),
    path("tickets/<int:pk>/fields/", agent.update_custom_fields, name="custom_fields"),
    path("tickets/<int:pk>/escalate/", agent.escalate, name="escalate"),
    path("tickets/<int:pk>/merge/", agent.merge, name="merge"),
    path("tickets/<int:pk>/macro/", agent.macro, name="macro"),
    path("tickets/<int:pk>/presence/", agent.presence_view, name="presence"),
    path("tickets/<int:pk>/assign-to-me/", agent.assign_me, name="assign_me"),
    path("tickets/<int:pk>/follow/", agent.follow, name="follow"),
    path("tickets/<int:pk>/mentions/", agent.mention_suggestions, name="mentions"),
    path("tickets/<int:pk>/timer/start/", agent.timer_start, name="timer_start"),
    path("tickets/<int:pk>/timer/stop/", agent.timer_stop, name="timer_stop"),
]

"""Customer portal URLs, mounted at /portal/ (namespace "portal")."""
from django.urls import path

from .views import attachments, portal

app_name = "portal"
urlpatterns = [
    path("", portal.ticket_list, name="tickets"),
    path("tickets/new/", portal.new_ticket, name="new_ticket"),
    path("tickets/new/fields/", portal.custom_fields_form, name="custom_fields_form"),
    path("tickets/<int:pk>/", portal.ticket_detail, name="ticket"),
    path("tickets/<int:pk>/fields/", portal.update_custom_fields, name="custom_fields"),
    path("tickets/<int:pk>/reply/", portal.reply, name="reply"),
    path("tickets/<int:pk>/solve/", portal.solve, name="solve"),
    path("tickets/<int:pk>/reopen/", portal.reopen, name="reopen"),
    path("attachments/<int:pk>/", attachments.download, name="attachment"),
]

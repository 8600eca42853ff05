"""REST API routes of the mailgate app, included under /api/v1/ by wiring/api_urls.py."""
from django.urls import path

from .api import RetryOutboundView, TicketMailView

urlpatterns: list = [
    path("tickets/<int:pk>/mail/", TicketMailView.as_view(), name="ticket-mail"),
    path("mail/outbound/<int:pk>/retry/", RetryOutboundView.as_view(),
         name="mail-outbound-retry"),
]

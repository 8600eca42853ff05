"""REST API routes of the casework app, included under /api/v1/ by wiring/api_urls.py."""
from django.urls import path

from .api import EngineeringLinkStatusView, TicketInvestigationView

urlpatterns: list = [
    path("tickets/<str:pk>/investigation/", TicketInvestigationView.as_view(),
         name="ticket-investigation"),
    path("casework/engineering-links/<str:pk>/status/", EngineeringLinkStatusView.as_view(),
         name="casework-link-status"),
]

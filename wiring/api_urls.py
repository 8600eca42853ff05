"""REST API v1: tickets (with their messages, transitions, audit trail and SLA clocks),
organizations, users, the SLA approaching-breach list, and the token endpoint."""
from django.urls import include, path
from rest_framework.routers import DefaultRouter

from helpdesk.api import OrganizationViewSet, UserViewSet, obtain_auth_token
from sla.api import ApproachingView, TicketSlaView
from tickets.api import TicketViewSet

router = DefaultRouter()
router.register("tickets", TicketViewSet, basename="ticket")
router.register("organizations", OrganizationViewSet, basename="organization")
router.register("users", UserViewSet, basename="user")

urlpatterns = [
    path("auth/token/", obtain_auth_token, name="api-token"),
    path("tickets/<int:pk>/sla/", TicketSlaView.as_view(), name="ticket-sla"),
    path("sla/approaching/", ApproachingView.as_view(), name="sla-approaching"),
    *router.urls,
    path("", include("knowledge.api_urls")),
    path("", include("qa.api_urls")),
    path("", include("incidents.api_urls")),
    path("", include("mailgate.api_urls")),
    path("", include("casework.api_urls")),
]

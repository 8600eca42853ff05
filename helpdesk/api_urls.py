"""REST API v1: tickets (with their messages, transitions and audit trail), organizations,
users, and the token endpoint."""
from django.urls import path
from rest_framework.routers import DefaultRouter

from tickets.api import TicketViewSet

from .api import OrganizationViewSet, UserViewSet, obtain_auth_token

router = DefaultRouter()
router.register("tickets", TicketViewSet, basename="ticket")
router.register("organizations", OrganizationViewSet, basename="organization")
router.register("users", UserViewSet, basename="user")

urlpatterns = [
    path("auth/token/", obtain_auth_token, name="api-token"),
    *router.urls,
]

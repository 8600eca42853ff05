"""REST API for SLA state: one ticket's clocks, and the clocks approaching breach.

Agents only: SLA internals (internal goals, escalation levels) are not shown to customers,
who get a 404 as for anything they cannot see. A ticket outside the agent's view is a 404.
"""
from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics
from rest_framework.request import Request
from rest_framework.response import Response

from helpdesk.api import ID_SCHEMA, NOT_FOUND, StandardPagination, is_agent
from tickets.selectors import get_ticket_for

from . import selectors
from .serializers import (
    ApproachingClockSerializer,
    ApproachingQuerySerializer,
    TicketSlaSerializer,
)


def _agents_only(request: Request) -> None:
    if not is_agent(request.user):
        raise exceptions.NotFound()


class TicketSlaView(generics.GenericAPIView):
    serializer_class = TicketSlaSerializer
    pagination_class = None
    filter_backends: list = []

    @extend_schema(
        summary="SLA clocks of a ticket (agents)",
        description="Every clock of the ticket (one per metric and resolution cycle): state, "
        "contractual and internal due times, met/breached instants, business time used "
        "against the target, and since when it is paused. Customers and agents who cannot "
        "see the ticket get a 404.",
        responses={200: TicketSlaSerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request, pk: int) -> Response:
        _agents_only(request)
        ticket = get_ticket_for(request.user, pk)
        body = {
            "ticket": ticket.pk,
            "sla_due_at": ticket.sla_due_at,
            "sla_level": ticket.sla_level,
            "clocks": selectors.ticket_clocks(ticket),
        }
        return Response(self.get_serializer(body).data)


class ApproachingView(generics.ListAPIView):
    serializer_class = ApproachingClockSerializer
    pagination_class = StandardPagination
    filter_backends: list = []

    def get_queryset(self):
        _agents_only(self.request)
        query = ApproachingQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        self.now = timezone.now()
        return selectors.approaching_breach(
            self.request.user, within=timedelta(minutes=query.validated_data["within"]),
            team=query.validated_data.get("team"), at=self.now,
        )

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        return selectors.add_live_figures(list(page), now=self.now) if page is not None else None

    @extend_schema(
        summary="Clocks approaching breach (agents)",
        description="Counting clocks of tickets you can see that are due within `within` "
        "minutes or already overdue and not completed, most urgent first. Paused clocks "
        "are left out: they cannot breach while paused.",
        parameters=[
            OpenApiParameter("within", int, description="Minutes ahead (1–10080, default 60)."),
            OpenApiParameter("team", ID_SCHEMA, description="Only tickets of this team (id)."),
        ],
        responses={200: ApproachingClockSerializer(many=True), 400: OpenApiResponse(
            description="Invalid `within` or `team`."), 404: NOT_FOUND},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

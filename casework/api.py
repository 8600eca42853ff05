"""REST API of technical casework: a ticket's investigation, and the bug tracker status sync.

Agents only; customers and tickets outside the agent's view get a 404.
"""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics
from rest_framework.request import Request
from rest_framework.response import Response

from helpdesk.api import NOT_FOUND, is_agent
from helpdesk.ids import parse_id
from tickets.selectors import get_ticket_for, visible_tickets

from . import services
from .models import EngineeringLink, Investigation
from .serializers import (
    EngineeringLinkSerializer,
    InvestigationSerializer,
    LinkStatusSerializer,
    PlaybookRunSerializer,
    TicketCaseworkSerializer,
)

# Routes take any string as the id (and answer a JSON 404 for a bad one) rather than
# letting Django's URL resolver answer an HTML 404 for "/abc/"; the schema says integer.
ID = OpenApiParameter("id", int, OpenApiParameter.PATH)


def _agents_only(request: Request) -> None:
    if not is_agent(request.user):
        raise exceptions.NotFound()


class TicketInvestigationView(generics.GenericAPIView):
    serializer_class = TicketCaseworkSerializer
    pagination_class = None
    filter_backends: list = []

    @extend_schema(summary="Investigation of a ticket (agents)",
                   description="Framing, hypothesis, decision, evidence (timestamped, typed), "
                   "time to first evidence, playbooks followed and linked tracker items.",
                   parameters=[ID],
                   responses={200: TicketCaseworkSerializer, 404: NOT_FOUND})
    def get(self, request: Request, pk: str) -> Response:
        _agents_only(request)
        ticket = get_ticket_for(request.user, pk)
        inv = Investigation.objects.filter(ticket=ticket).prefetch_related("evidence").first()
        return Response({
            "investigation": InvestigationSerializer(inv).data if inv else None,
            "playbooks": PlaybookRunSerializer(
                ticket.playbook_runs.select_related("playbook"), many=True).data,
            "engineering_links": EngineeringLinkSerializer(
                ticket.engineering_links.all(), many=True).data,
        })


class EngineeringLinkStatusView(generics.GenericAPIView):
    serializer_class = LinkStatusSerializer
    pagination_class = None
    filter_backends: list = []

    @extend_schema(summary="Sync the status of a linked tracker item (agents, integrations)",
                   request=LinkStatusSerializer, parameters=[ID],
                   responses={200: EngineeringLinkSerializer,
                              400: OpenApiResponse(OpenApiTypes.OBJECT,
                                                   description="Invalid status."),
                              404: NOT_FOUND})
    def post(self, request: Request, pk: str) -> Response:
        _agents_only(request)
        link_id = parse_id(pk)
        if link_id is None:
            raise exceptions.NotFound()
        link = EngineeringLink.objects.filter(
            pk=link_id, ticket__in=visible_tickets(request.user).values("pk")).first()
        if link is None:
            raise exceptions.NotFound()
        body = LinkStatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        link = services.sync_link_status(link, status=body.validated_data["status"])
        return Response(EngineeringLinkSerializer(link).data)

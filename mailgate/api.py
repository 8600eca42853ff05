"""REST API of the email channel: a ticket's mail thread and delivery state, and the
retry of a failed e-mail. Agents only; anything they cannot see is a 404."""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics
from rest_framework.request import Request
from rest_framework.response import Response

from helpdesk.api import NOT_FOUND, is_agent
from tickets.selectors import get_ticket_for

from . import outbound
from .models import InboundMessage, OutboundEmail
from .serializers import OutboundEmailSerializer, TicketMailSerializer

THREAD_LIMIT = 200  # newest first; a longer thread is read in the admin


def _agents_only(request: Request) -> None:
    if not is_agent(request.user):
        raise exceptions.NotFound()


class TicketMailView(generics.GenericAPIView):
    serializer_class = TicketMailSerializer
    pagination_class = None
    filter_backends: list = []

    @extend_schema(summary="Mail thread of a ticket (agents)",
                   description="Inbound messages and outbound e-mails of the ticket with "
                   "their delivery status, newest first.",
                   responses={200: TicketMailSerializer, 404: NOT_FOUND})
    def get(self, request: Request, pk: int) -> Response:
        _agents_only(request)
        ticket = get_ticket_for(request.user, pk)
        body = {
            "ticket": ticket.pk,
            "inbound": InboundMessage.objects.filter(ticket=ticket)
            .order_by("-received_at", "-pk")[:THREAD_LIMIT],
            "outbound": OutboundEmail.objects.filter(ticket=ticket)
            .order_by("-created_at", "-pk")[:THREAD_LIMIT],
        }
        return Response(self.get_serializer(body).data)


class RetryOutboundView(generics.GenericAPIView):
    serializer_class = OutboundEmailSerializer
    pagination_class = None
    filter_backends: list = []

    @extend_schema(summary="Send a failed e-mail again (agents)", request=None,
                   responses={200: OutboundEmailSerializer, 404: NOT_FOUND,
                              409: OpenApiResponse(description="The e-mail has not failed.")})
    def post(self, request: Request, pk: int) -> Response:
        _agents_only(request)
        row = get_object_or_404(OutboundEmail.objects.filter(ticket__isnull=False), pk=pk)
        get_ticket_for(request.user, row.ticket_id)
        if row.status != "failed":
            return Response({"detail": "Only a failed e-mail can be sent again."}, status=409)
        row = outbound.retry_outbound(row, actor=request.user)
        return Response(self.get_serializer(row).data)

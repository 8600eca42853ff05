"""REST API for tickets: the list, filing, field changes, transitions, messages, audit trail.

Every lookup goes through selectors.visible_tickets, so a ticket you cannot see is a 404;
every write goes through tickets.services, whose refusals become 400 (or 403) answers.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.http import parse_etags
from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from helpdesk.api import FORBIDDEN, NOT_FOUND, CursorPagination, ErrorSerializer, is_agent
from helpdesk.keyset import decode_cursor, encode_cursor

from . import changes as change_log
from . import events, selectors, services
from .api_filters import TicketFilter, ticket_filter_class
from .models import Channel, Ticket, TicketChange
from .serializers import (
    MessageCreateSerializer,
    MessageSerializer,
    ServiceValidationErrorSerializer,
    TicketChangeSerializer,
    TicketChangesSerializer,
    TicketCreateSerializer,
    TicketEventSerializer,
    TicketSerializer,
    TicketUpdateSerializer,
    TransitionErrorSerializer,
    TransitionSerializer,
    load_for_representation,
)
from .state_machine import Status, TransitionError


def service_exception_handler(exc: Exception, context: dict) -> Response | None:
    """Turn the services' refusals into JSON answers; everything else as DRF does."""
    if isinstance(exc, TransitionError):
        set_rollback()
        return Response({"detail": exc.translated(gettext), "missing": list(exc.missing)},
                        status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoValidationError):
        set_rollback()
        body: dict = {"detail": " ".join(exc.messages)}
        if hasattr(exc, "error_dict"):
            body["errors"] = exc.message_dict
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)  # keep the service's reason
    response = drf_exception_handler(exc, context)
    if (response is not None and isinstance(exc, exceptions.ValidationError)
            and not (isinstance(response.data, dict) and "detail" in response.data)):
        # One error shape for integrators: `detail` always, `errors` by field; the field
        # keys stay at the top level too, as before.
        fields = response.data if isinstance(response.data, dict) else \
            {"non_field_errors": response.data}
        errors = _flat_errors(fields)
        messages = [f"{name}: {' '.join(errs)}" for name, errs in errors.items()]
        response.data = {**fields, "detail": "Invalid input. " + "; ".join(messages),
                         "errors": errors}
    return response


def _flat_errors(errors: object, prefix: str = "") -> dict[str, list[str]]:
    """DRF's errors by field, nested ones (a list item, a packet field) under dotted names
    such as `tags.0` or `packet.reason`, each a list of plain messages."""
    if isinstance(errors, dict):
        out: dict[str, list[str]] = {}
        for key, value in errors.items():
            out.update(_flat_errors(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(errors, list) and any(isinstance(e, dict | list) for e in errors):
        out = {}
        for index, value in enumerate(errors):
            if value:
                out.update(_flat_errors(value, f"{prefix}.{index}"))
        return out
    name = prefix or "non_field_errors"
    return {name: [str(e) for e in errors] if isinstance(errors, list) else [str(errors)]}


def if_match_versions(header: str | None) -> list[str] | None:
    """The ticket versions an `If-Match` header accepts (RFC 9110, 13.1.1).

    None when there is no condition (no header, or `*`: the ticket exists, it was just
    read). Otherwise the opaque values of the header's strong entity tags, which may be a
    list: a weak tag (`W/"..."`) never matches under the strong comparison If-Match uses,
    and a header with no valid tag matches nothing (412), rather than being ignored.
    """
    if header is None or not header.strip():
        return None
    tags = parse_etags(header)
    if tags == ["*"]:
        return None
    # An ETag is "<version>.<digest of the representation>": the version is what counts.
    return [tag[1:-1].split(".")[0] for tag in tags if not tag.startswith("W/")]


def representation_etag(ticket: Ticket, data: Mapping) -> str:
    """The ETag of a ticket's representation: the ticket's version (what If-Match checks)
    and a digest of everything shown, so that a change to what the ticket shows (a new
    message moves `updated_at`; a renamed team, an answered survey, a new handoff) changes
    it too, and two views that differ (an agent's, with the handoff packet, and the
    customer's) never share one."""
    shown = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    digest = hashlib.sha256(shown.encode()).hexdigest()[:16]
    return f'"{services.version_of(ticket)}.{digest}"'


def etag_matches(header: str | None, etag: str) -> bool:
    """Whether `If-None-Match` names this representation (weak comparison, RFC 9110
    13.1.2: `W/` is ignored; `*` matches any current representation)."""
    if not header:
        return False
    tags = parse_etags(header)
    return "*" in tags or etag in (t.removeprefix("W/") for t in tags)


def _names(data: object) -> list[str]:
    """The input names a request body gives (none when it is not an object)."""
    return list(data.keys()) if isinstance(data, Mapping) else []


def ticket_queryset(qs: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """Tickets with the three small reference tables their representation shows joined
    (planned in about 0.4 ms; the users and organizations joined too took PostgreSQL
    17-23 ms to plan); TicketSerializer loads the rest for a page at once
    (serializers.load_for_representation)."""
    return qs.select_related("team", "category", "product_area")


CHANGES_PAGE_SIZE, CHANGES_MAX_PAGE_SIZE = 100, 1000


class CursorExpired(exceptions.APIException):
    status_code = status.HTTP_410_GONE
    default_detail = "This cursor is older than the change log keeps: start over."
    default_code = "cursor_expired"


class ChangesQuerySerializer(serializers.Serializer):
    cursor = serializers.CharField(required=False, allow_blank=True)
    start = serializers.ChoiceField(choices=["now"], required=False, allow_blank=True)
    page_size = serializers.IntegerField(required=False, min_value=1,
                                         max_value=2**31 - 1)


INVALID = OpenApiResponse(ServiceValidationErrorSerializer,
                          description="Invalid input, or refused by the ticket rules.")


@extend_schema_view(
    list=extend_schema(
        summary="Tickets you can see, most urgent first (SLA due, priority, age)",
    ),
    retrieve=extend_schema(
        parameters=[
            OpenApiParameter(
                "If-None-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
                description="The ETag of an earlier GET (or several, or `*`): answer 304 "
                "without a body if the ticket still looks the same to you."),
            OpenApiParameter(
                "ETag", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[200, 304],
                required=True, description="Changes whenever what you see of the ticket "
                "changes (a field, a new message, a handoff); send it back in "
                "`If-None-Match` (304 if unchanged) or a PATCH's `If-Match`."),
        ],
        responses={200: TicketSerializer,
                   304: OpenApiResponse(description="Not modified since that ETag."),
                   404: NOT_FOUND}),
)
class TicketViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = TicketSerializer

    @property
    def filterset_class(self) -> type[TicketFilter]:
        # With a `cf_<key>` filter per custom field, as the definitions stand.
        return ticket_filter_class()
    # Tickets, their messages and events grow without bound: cursor pages, no count.
    pagination_class = CursorPagination

    def get_exception_handler(self):
        return service_exception_handler

    def get_queryset(self) -> QuerySet[Ticket]:
        user = self.request.user
        return ticket_queryset(selectors.visible_tickets(user, teams_subquery=True))

    def filter_queryset(self, queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
        # Query-string filters narrow the list; they never turn a lookup into a 404.
        if self.action != "list":
            return queryset
        # No filter named: the filter set would build (deep-copying) a form of a dozen
        # fields to change nothing, a tenth of a list request's CPU.
        # Custom-field filters (`cf_<key>`) are not among the base filters: they count too.
        params = self.request.query_params
        if not any(name in TicketFilter.base_filters or name.startswith("cf_") for name in params):
            return queryset
        return super().filter_queryset(queryset)

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "is_agent": is_agent(self.request.user)}

    def paginate_queryset(self, queryset: QuerySet) -> list | None:
        # A customer sees their own and (org admins) their organization's tickets: a few
        # thousand at most, cheaper to sort than to look for along the urgency index.
        if isinstance(self.paginator, CursorPagination):
            self.paginator.small = not is_agent(self.request.user)
        return super().paginate_queryset(queryset)

    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        ticket = self.get_object()
        data = self.get_serializer(ticket).data
        etag = representation_etag(ticket, data)
        if etag_matches(request.headers.get("If-None-Match"), etag):
            response = Response(status=status.HTTP_304_NOT_MODIFIED)
        else:
            response = Response(data)
        response["ETag"] = etag
        return response

    def _fresh(self, ticket: Ticket) -> Ticket:
        """The ticket as it is now in the database (it may have left the user's view)."""
        return ticket_queryset(Ticket.objects.filter(pk=ticket.pk)).get()

    def _represent(self, ticket: Ticket) -> dict:
        return TicketSerializer(self._fresh(ticket),
                                context=self.get_serializer_context()).data

    def _represent_created(self, ticket: Ticket) -> dict:
        """A ticket just created, from the object the service wrote (its relations are in
        hand) with what the SLA reaction wrote to its row since; a new ticket has no
        escalation and no survey yet. The write hands back the very object it inserted,
        with its reactions' column changes, when nothing else changed the row."""
        if not events.is_as_written(ticket):
            ticket.refresh_from_db(fields=["sla_due_at", "sla_level", "updated_at"])
        ticket.api_escalations = []
        ticket.api_satisfaction = None
        return TicketSerializer(ticket, context=self.get_serializer_context()).data

    @extend_schema(
        summary="Incremental export: tickets changed since a cursor, in change order",
        description="For sync jobs (agents who see every ticket). Each change to a ticket "
        "(created, updated, merged into another, deleted) appears once, in the order the "
        "changes committed, with the ticket as it is now (null once deleted). Keep "
        "`after_cursor` and resume from it: a loop that does never misses or repeats a "
        "change, even with writes going on meanwhile. `end_of_stream` true means nothing "
        "more can be read now (poll again later); false means read `next` straight away. "
        "Without `cursor` the stream starts at the oldest change kept (the log keeps "
        "HELPDESK_TICKET_CHANGES_RETENTION_DAYS, 30 by default); `start=now` starts at the "
        "present: take that cursor, list every ticket, then follow the changes from it.",
        parameters=[
            OpenApiParameter("cursor", OpenApiTypes.STR, description="`after_cursor` of the "
                             "previous page, unchanged."),
            OpenApiParameter("start", OpenApiTypes.STR, enum=["now"], description="Without "
                             "`cursor`: `now` starts at the present instead of the oldest "
                             "change kept."),
            OpenApiParameter("page_size", OpenApiTypes.INT, description="Changes per page "
                             f"(default {CHANGES_PAGE_SIZE}; more than "
                             f"{CHANGES_MAX_PAGE_SIZE} is capped at {CHANGES_MAX_PAGE_SIZE}).")
        ],
        responses={200: TicketChangesSerializer, 403: FORBIDDEN,
                   410: OpenApiResponse(ErrorSerializer, description="The cursor is older "
                                        "than the change log's retention: start over.")},
    )
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None,
            url_path="changes")
    def changes(self, request: Request) -> Response:
        user = request.user
        if not (is_agent(user) and user.sees_all_tickets):
            # A narrower view cannot be synced exactly: a ticket leaving it would vanish.
            raise exceptions.PermissionDenied(
                "The incremental export is for agents who see every ticket.")
        query = ChangesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        size = min(query.validated_data.get("page_size") or CHANGES_PAGE_SIZE,
                   CHANGES_MAX_PAGE_SIZE)
        raw = query.validated_data.get("cursor")
        now = timezone.now()
        if raw:
            number = TicketChange._meta.get_field("xid")
            xid, change_id, issued = decode_cursor(raw, [number, number, number])
            # Changes older than the retention are pruned: a cursor handed out before
            # then may point past changes that are gone, so it is refused, not trusted.
            days = settings.HELPDESK_TICKET_CHANGES_RETENTION_DAYS
            if issued < (now - timedelta(days=days)).timestamp():
                raise CursorExpired(
                    f"This cursor is older than the change log keeps ({days} days): start "
                    "over with start=now and a full sync.")
            after = (xid, change_id)
        elif query.validated_data.get("start") == "now":
            after = change_log.current_position()
        else:
            after = None
        rows, position, end = change_log.read_changes(after, limit=size)
        tickets = {t.pk: t for t in ticket_queryset(
            Ticket.objects.filter(pk__in={r.ticket_id for r in rows}))}
        load_for_representation(list(tickets.values()), agent=True)
        for row in rows:
            row.api_ticket = tickets.get(row.ticket_id)
        # The cursor also holds when it was handed out (seconds), for the check above.
        cursor = encode_cursor([*position, int(now.timestamp())])
        url = remove_query_param(request.build_absolute_uri(), "start")
        return Response({
            "changes": TicketChangeSerializer(
                rows, many=True, context=self.get_serializer_context()).data,
            "after_cursor": cursor,
            "end_of_stream": end,
            "next": replace_query_param(url, "cursor", cursor),
        })

    @extend_schema(
        summary="File a ticket",
        description="Customers file for themselves through a self-service channel (api by "
        "default); priority and tags come from agents and triggers, and a customer who "
        "sends a requester, priority, tags or a phone or chat channel is refused (403, "
        "naming the fields). Agents may file for a requester, set the priority, channel and "
        "tags.",
        request=TicketCreateSerializer,
        responses={201: TicketSerializer, 400: INVALID, 403: FORBIDDEN},
    )
    def create(self, request: Request) -> Response:
        services.refuse_staff_inputs(request.user, "create_ticket", _names(request.data))
        serializer = TicketCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = request.user
        # Who may set which field is decided by the service, for every route alike.
        ticket = services.create_ticket(
            requester=data.get("requester") or user,
            subject=data["subject"],
            description=data["description"],
            channel=data["channel"],
            priority=data.get("priority"),
            category=data.get("category"),
            product_area=data.get("product_area"),
            tags=data.get("tags", ()),
            actor=user,
            attachments=data["attachments"],
            custom_fields=data.get("custom_fields"),
        )
        return Response(self._represent_created(ticket), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change ticket fields (agents)",
        description="Priority, category, product area, team, assignee, subject, tags and "
        "custom field values. "
        "The status is not writable here: POST to the transition endpoint.",
        request=TicketUpdateSerializer,
        parameters=[OpenApiParameter(
            "If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
            description="The ETag of a GET (or a list of them, or `*`): refuse with 412 if the "
            "ticket is at none of those versions. Strong comparison: a weak tag (W/) never "
            "matches.")],
        responses={200: TicketSerializer, 400: INVALID, 403: FORBIDDEN, 404: NOT_FOUND,
                   412: OpenApiResponse(description="The ticket changed since that ETag; "
                                        "nothing was saved.")},
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        ticket = self.get_object()
        if not is_agent(request.user):
            raise exceptions.PermissionDenied("Only agents can change ticket fields.")
        if isinstance(request.data, Mapping) and "status" in request.data:
            url = reverse("ticket-transition", args=[ticket.pk], request=request)
            return Response(
                {"detail": f"The status cannot be changed here; POST {{\"to\": ...}} to {url}."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        serializer = TicketUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        # Optimistic locking: `If-Match` with the ETag of a GET refuses (412) to overwrite
        # a ticket someone changed since; without it, the fields sent are applied.
        expected = if_match_versions(request.headers.get("If-Match"))
        try:
            ticket = services.update_ticket(ticket, actor=request.user, changes=changes,
                                            expected_versions=expected)
        except services.ConflictError as exc:
            return Response({"detail": " ".join(exc.messages)},
                            status=status.HTTP_412_PRECONDITION_FAILED)
        fresh = self._fresh(ticket)
        data = TicketSerializer(fresh, context=self.get_serializer_context()).data
        response = Response(data)
        response["ETag"] = representation_etag(fresh, data)
        return response

    @extend_schema(
        summary="Move the ticket through its lifecycle",
        description="`escalated` hands the ticket to `to_team` and `engineering` to "
        "engineering, both with a complete handoff `packet`. A refused transition "
        "answers 400, lists what is `missing`, and changes nothing.",
        request=TransitionSerializer,
        responses={
            200: TicketSerializer,
            400: OpenApiResponse(TransitionErrorSerializer,
                                 description="Refused transition; nothing changed."),
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def transition(self, request: Request, pk: str | None = None) -> Response:
        ticket = self.get_object()
        services.refuse_staff_inputs(request.user, "transition", _names(request.data))
        serializer = TransitionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        to = data["to"]
        packet = dict(data["packet"]) if data.get("packet") else None
        if to in (Status.ESCALATED, Status.ENGINEERING):
            ticket = services.escalate(
                ticket, to_team=data.get("to_team"), packet=packet, actor=request.user,
                engineering=to == Status.ENGINEERING,
            )
        else:
            ticket = services.transition(
                ticket, to, actor=request.user, reason=data["reason"],
                assignee=data.get("assignee"), packet=packet, to_team=data.get("to_team"),
            )
        return Response(self._represent(ticket))

    @extend_schema(
        summary="The conversation (customers see public replies only)",
        responses={200: MessageSerializer(many=True), 404: NOT_FOUND},
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def messages(self, request: Request, pk: str | None = None) -> Response:
        # GET, and HEAD through it (DRF maps HEAD to the GET handler): never a write.
        ticket = self.get_object()
        page = self.paginate_queryset(selectors.conversation(
            ticket, include_internal=is_agent(request.user), viewer=request.user))
        return self.get_paginated_response(
            MessageSerializer(page, many=True, context=self.get_serializer_context()).data)

    @extend_schema(
        summary="Reply, or (agents) add an internal note",
        request=MessageCreateSerializer,
        responses={201: MessageSerializer, 400: INVALID, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    @messages.mapping.post
    def add_message(self, request: Request, pk: str | None = None) -> Response:
        ticket = self.get_object()
        serializer = MessageCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        message = services.add_reply(
            ticket, author=request.user, body=data["body"], public=data["public"],
            attachments=data["attachments"], channel=Channel.API,
        )
        message = selectors.conversation(ticket, include_internal=is_agent(request.user),
                                         viewer=request.user).get(pk=message.pk)
        return Response(MessageSerializer(message, context=self.get_serializer_context()).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="The audit trail (customers see public events only)",
        responses={200: TicketEventSerializer(many=True), 404: NOT_FOUND},
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def events(self, request: Request, pk: str | None = None) -> Response:
        ticket = self.get_object()
        events = selectors.timeline(ticket, include_internal=is_agent(request.user))
        page = self.paginate_queryset(events)
        return self.get_paginated_response(TicketEventSerializer(page, many=True).data)


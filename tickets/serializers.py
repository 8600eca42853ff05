"""API shapes of tickets, their conversation and audit trail; input shapes only, no rules.

The rules (who may do what, which transition needs what) live in tickets.services.
"""
from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from django.db.models import prefetch_related_objects
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from helpdesk.models import Organization, Team, User
from helpdesk.serializers import (
    OrganizationBriefSerializer,
    TeamBriefSerializer,
    UserBriefSerializer,
    UserContactSerializer,
)

from . import custom_fields as cf
from . import field_definitions
from .models import (
    STATUS_CHOICES,
    Attachment,
    Category,
    Channel,
    CustomField,
    Escalation,
    Message,
    Priority,
    ProductArea,
    Ticket,
    TicketChange,
    TicketEvent,
)
from .state_machine import Status

# --- custom fields ----------------------------------------------------------------------


class CustomFieldValuesField(serializers.JSONField):
    """The ticket's custom field values by key. Reading: every active field with a value
    (customers: the visible ones). Writing: {key: value}, null clears a field; checked by
    the service against each field's type. A JSON object, also as text in a multipart
    form."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("help_text", "Custom field values by field key (see each field).")
        super().__init__(**kwargs)

    def to_representation(self, value):
        customer = not self.context.get("is_agent")
        return field_definitions.visible_values(value or {}, customer=customer)

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        if not isinstance(data, dict):
            raise serializers.ValidationError(_("Give an object of field keys and values."))
        return data


_INTEGER = {"type": "integer", "minimum": -cf.MAX_NUMBER, "maximum": cf.MAX_NUMBER}
_ANY_VALUE = {"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "boolean"},
                        {"type": "array", "items": {"type": "string"}}]}


def value_schema(field) -> dict:
    """The schema of one custom field's value (the ticket's property, the list filter)."""
    kind = field.field_type
    schema: dict
    if kind in (cf.TEXT, cf.LONG_TEXT):
        schema = {"type": "string",
                  "maxLength": cf.MAX_LONG_TEXT if kind == cf.LONG_TEXT else cf.MAX_TEXT}
    elif kind == cf.REGEX:
        schema = {"type": "string", "maxLength": cf.MAX_TEXT,
                  "pattern": f"^(?:{field.pattern})$"}
    elif kind == cf.NUMBER:
        schema = dict(_INTEGER)
    elif kind == cf.DECIMAL:
        schema = {"type": "string", "format": "decimal", "pattern": r"^-?\d+(\.\d+)?$",
                  "example": "12.50"}
    elif kind == cf.DATE:
        schema = {"type": "string", "format": "date"}
    elif kind == cf.CHECKBOX:
        schema = {"type": "boolean"}
    elif kind == cf.DROPDOWN:
        schema = {"type": "string", "enum": list(field.choices)}
    elif kind == cf.MULTISELECT:
        schema = {"type": "array", "uniqueItems": True,
                  "items": {"type": "string", "enum": list(field.choices)}}
    else:  # a link: the row's id
        schema = {"type": "integer", "minimum": 1, "maximum": cf.MAX_NUMBER}
    audience = ("customers see it" + (" and may set it" if field.customer_editable else "")
                if field.customer_visible else "internal: staff only")
    kind_label = dict(CustomField.field_type.field.choices).get(kind, kind)
    text = f"{field.label} ({kind_label}; {audience})."
    if field.help_text:
        text += f" {field.help_text}"
    return {**schema, "title": field.label, "description": text}


def custom_fields_schema(*, write: bool) -> dict:
    """The object of custom field values, one typed property per active field, as the
    definitions stand when the schema is generated. Without a database (a schema built
    at import time), any field key with a value of one of the stored types."""
    try:
        fields = field_definitions.active_fields()
    except Exception:  # noqa: BLE001 - no database here: document the general shape
        return {"type": "object", "additionalProperties": _ANY_VALUE,
                "description": "Custom field values by field key."}
    properties = {}
    for field in fields:
        schema = value_schema(field)
        properties[field.key] = {**schema, "nullable": True} if write else schema
    return {"type": "object", "properties": properties, "additionalProperties": False,
            "description": "Custom field values by field key; a field without a value is "
            "left out." + (" Give null to clear one." if write else "")}


class CustomFieldValuesExtension(OpenApiSerializerFieldExtension):
    """Documents `custom_fields` per field in the OpenAPI schema (drf-spectacular)."""

    target_class = CustomFieldValuesField

    def map_serializer_field(self, auto_schema, direction):
        return custom_fields_schema(write=direction == "request")


# --- reading --------------------------------------------------------------------------


class CategoryBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name"]
        read_only_fields = fields


class ProductAreaBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProductArea
        fields = ["id", "name"]
        read_only_fields = fields


class HandoffPacketReadSerializer(serializers.ModelSerializer):
    """The latest escalation's handoff packet (agents only)."""

    escalation_kind = serializers.CharField(source="kind", read_only=True,
                                            help_text="tier or engineering")
    from_team = serializers.PrimaryKeyRelatedField(read_only=True)
    to_team = serializers.PrimaryKeyRelatedField(read_only=True)
    actor = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Escalation
        fields = [
            "id", "escalation_kind", "from_team", "to_team", "actor", "created_at",
            *Escalation.PACKET_FIELDS,
        ]
        read_only_fields = fields


class SatisfactionSerializer(serializers.Serializer):
    """The latest answered satisfaction survey of a ticket (agents only)."""

    rating = serializers.IntegerField(read_only=True, help_text="CSAT, 1 to 5.")
    nps = serializers.IntegerField(read_only=True, allow_null=True,
                                   help_text="Likelihood to recommend, 0 to 10.")
    comment = serializers.CharField(read_only=True)
    responded_at = serializers.DateTimeField(read_only=True)
    resolution = serializers.IntegerField(read_only=True,
                                          help_text="Which resolution the answer is about.")


# What a ticket's representation reads besides its own row, loaded for a whole page at
# once: the three small reference tables come joined with the row (ticket_queryset), the
# people, organizations, tags, latest handoff and satisfaction here, one "id IN (...)"
# query each. Under load a round trip to the database costs more than its query.
_LOADED = "_api_loaded_for"  # on a ticket: None, "customer" or "agent"


def load_for_representation(tickets: list[Ticket], *, agent: bool) -> None:
    """Give `tickets` everything TicketSerializer shows, in at most six queries whatever
    their number; what a ticket already holds (a ticket just created has its people in
    hand, a joined team) is not fetched again."""
    from .surveys import latest_satisfaction

    audience = "agent" if agent else "customer"
    pending = [t for t in tickets if getattr(t, _LOADED, None) not in (audience, "agent")]
    if not pending:
        return
    meta = Ticket._meta
    related = {name: meta.get_field(name) for name in (
        "requester", "assignee", "organization", "team", "category", "product_area")}

    def missing(names: tuple[str, ...]) -> set[int]:
        return {getattr(t, related[n].attname) for t in pending for n in names
                if not related[n].is_cached(t)} - {None}

    # Requesters and assignees in one query, with their organizations joined: a ticket's
    # organization is nearly always its requester's, so it rarely costs a query of its own.
    users = User.objects.select_related("organization").in_bulk(
        missing(("requester", "assignee")))
    found: dict[type, dict[int, Any]] = {User: users, Organization: {
        u.organization_id: u.organization for u in users.values() if u.organization_id}}
    for name in ("organization", "team", "category", "product_area"):
        model = related[name].related_model
        ids = missing((name,)) - set(found.get(model, {}))
        if ids:
            found.setdefault(model, {}).update(model._default_manager.in_bulk(ids))
    for ticket in pending:
        for field in related.values():
            value = getattr(ticket, field.attname)
            if value is not None and not field.is_cached(ticket):
                field.set_cached_value(ticket, found.get(field.related_model, {}).get(value))
    untagged = [t for t in pending if "tags" not in getattr(t, "_prefetched_objects_cache", {})]
    if untagged:
        prefetch_related_objects(untagged, "tags")
    if agent:
        ids = [t.pk for t in pending if not hasattr(t, "api_escalations")]
        latest: dict[int, list[Escalation]] = {}
        if ids:
            for escalation in Escalation.objects.filter(ticket_id__in=ids).order_by(
                    "ticket_id", "-created_at", "-id"):
                latest.setdefault(escalation.ticket_id, [escalation])
        for ticket in pending:
            if not hasattr(ticket, "api_escalations"):
                ticket.api_escalations = latest.get(ticket.pk, [])
        ids = [t.pk for t in pending if not hasattr(t, "api_satisfaction")]
        satisfaction = latest_satisfaction(ids) if ids else {}
        for ticket in pending:
            if not hasattr(ticket, "api_satisfaction"):
                ticket.api_satisfaction = satisfaction.get(ticket.pk)
    for ticket in pending:
        setattr(ticket, _LOADED, audience)


class TicketListSerializer(serializers.ListSerializer):
    """Loads what a whole page of tickets shows at once (load_for_representation)."""

    def to_representation(self, data):
        items = list(data.all() if hasattr(data, "all") else data)
        load_for_representation(items, agent=bool(self.context.get("is_agent")))
        return super().to_representation(items)


_DATETIME = serializers.DateTimeField()  # DRF's rendering: the reader's zone, ISO 8601


def _when(value: datetime | None, zone: tzinfo | None) -> str | None:
    """A moment as DRF's DateTimeField shows it, with the reader's zone looked up once per
    ticket rather than once per field (a context-local lookup each time)."""
    if value is None:
        return None
    if zone is None or api_settings.DATETIME_FORMAT.lower() != ISO_8601 \
            or timezone.is_naive(value):
        return _DATETIME.to_representation(value)
    try:
        shown = value.astimezone(zone).isoformat()
    except OverflowError:  # DRF's own error for a moment past the end of time
        return _DATETIME.to_representation(value)
    return shown[:-6] + "Z" if shown.endswith("+00:00") else shown


def _person(user: User | None, *, email: bool = False) -> dict | None:
    if user is None:
        return None
    shown = {"id": user.pk, "name": user.display_name}
    if email:
        shown["email"] = user.email
    return shown


def _brief(obj, *fields: str) -> dict | None:
    return None if obj is None else {name: getattr(obj, name) for name in fields}


class TicketSerializer(serializers.ModelSerializer):
    status_label = serializers.CharField(read_only=True)
    priority_label = serializers.CharField(source="get_priority_display", read_only=True)
    requester = UserContactSerializer(read_only=True)
    organization = OrganizationBriefSerializer(read_only=True, allow_null=True)
    team = TeamBriefSerializer(read_only=True, allow_null=True)
    assignee = UserBriefSerializer(read_only=True, allow_null=True)
    category = CategoryBriefSerializer(read_only=True, allow_null=True)
    product_area = ProductAreaBriefSerializer(read_only=True, allow_null=True)
    tags = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    merged_into = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    handoff = serializers.SerializerMethodField(
        help_text="The latest escalation handoff packet; null for customers."
    )
    satisfaction = serializers.SerializerMethodField(
        help_text="The latest answered satisfaction survey; null for customers."
    )
    custom_fields = CustomFieldValuesField(read_only=True)

    class Meta:
        model = Ticket
        fields = [
            "id", "subject", "description", "status", "status_label", "priority",
            "priority_label", "channel", "requester", "organization", "team", "assignee",
            "category", "product_area", "tags", "created_at", "updated_at",
            "first_response_at", "resolved_at", "closed_at", "reopen_count", "sla_due_at",
            "merged_into", "handoff", "satisfaction", "custom_fields",
        ]
        read_only_fields = fields
        list_serializer_class = TicketListSerializer

    def to_representation(self, ticket: Ticket) -> dict:
        """What the declared fields give (tests/api/test_representation.py holds the two
        equal), written out: DRF's field-by-field walk cost more than the rest of a list
        request (about 0.6 ms a ticket, 25 to a page)."""
        agent = bool(self.context.get("is_agent"))
        load_for_representation([ticket], agent=agent)
        zone = _DATETIME.default_timezone()
        return {
            "id": ticket.pk,
            "subject": ticket.subject,
            "description": ticket.description,
            "status": ticket.status,
            "status_label": str(ticket.status_label),
            "priority": ticket.priority,
            "priority_label": str(ticket.get_priority_display()),
            "channel": ticket.channel,
            "requester": _person(ticket.requester, email=True),
            "organization": _brief(ticket.organization, "id", "name", "support_tier"),
            "team": _brief(ticket.team, "id", "name", "tier"),
            "assignee": _person(ticket.assignee),
            "category": _brief(ticket.category, "id", "name"),
            "product_area": _brief(ticket.product_area, "id", "name"),
            "tags": [tag.name for tag in ticket.tags.all()],
            "created_at": _when(ticket.created_at, zone),
            "updated_at": _when(ticket.updated_at, zone),
            "first_response_at": _when(ticket.first_response_at, zone),
            "resolved_at": _when(ticket.resolved_at, zone),
            "closed_at": _when(ticket.closed_at, zone),
            "reopen_count": ticket.reopen_count,
            "sla_due_at": _when(ticket.sla_due_at, zone),
            "merged_into": ticket.merged_into_id,
            "handoff": self.get_handoff(ticket),
            "satisfaction": self.get_satisfaction(ticket),
            "custom_fields": None if ticket.custom_fields is None else
            field_definitions.visible_values(ticket.custom_fields, customer=not agent),
        }

    @extend_schema_field(HandoffPacketReadSerializer(allow_null=True))
    def get_handoff(self, ticket: Ticket) -> dict | None:
        if not self.context.get("is_agent"):
            return None
        escalations = getattr(ticket, "api_escalations", None)
        if escalations is None:  # not loaded: one object, so one query is fine
            escalations = list(ticket.escalations.order_by("-created_at", "-id")[:1])
        if not escalations:
            return None
        # HandoffPacketReadSerializer's fields, written out as the ticket's are.
        latest = escalations[0]
        return {"id": latest.pk, "escalation_kind": str(latest.kind),
                "from_team": latest.from_team_id, "to_team": latest.to_team_id,
                "actor": latest.actor_id,
                "created_at": _when(latest.created_at, _DATETIME.default_timezone()),
                **{name: getattr(latest, name) for name in Escalation.PACKET_FIELDS}}

    @extend_schema_field(SatisfactionSerializer(allow_null=True))
    def get_satisfaction(self, ticket: Ticket) -> dict | None:
        if not self.context.get("is_agent"):
            return None
        if hasattr(ticket, "api_satisfaction"):  # loaded for the page
            found = ticket.api_satisfaction
        else:  # one ticket: one query is fine
            from .surveys import latest_satisfaction

            found = latest_satisfaction([ticket.pk]).get(ticket.pk)
        if found is None:
            return None
        return {"rating": found.rating, "nps": found.nps, "comment": found.comment,
                "responded_at": _when(found.responded_at, _DATETIME.default_timezone()),
                "resolution": found.resolution}


class AttachmentSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "filename", "content_type", "size", "created_at", "sender_only",
                  "download_url"]
        read_only_fields = fields

    def get_download_url(self, attachment: Attachment) -> str:
        """Permission-checked download (the same rule as the ticket itself)."""
        url = reverse("portal:attachment", args=[attachment.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


class MessageSerializer(serializers.ModelSerializer):
    author = UserBriefSerializer(read_only=True, allow_null=True)
    attachments = AttachmentSerializer(many=True, read_only=True)
    merged_from = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = Message
        fields = [
            "id", "author", "is_public", "by_agent", "body", "channel", "created_at",
            "merged_from", "attachments",
        ]
        read_only_fields = fields


class TicketEventSerializer(serializers.ModelSerializer):
    actor = UserBriefSerializer(read_only=True, allow_null=True,
                                help_text="Null for the system (rules, scheduled jobs).")
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = TicketEvent
        fields = [
            "id", "kind", "kind_label", "actor", "created_at", "field", "before", "after",
            "note", "is_public",
        ]
        read_only_fields = fields


class TicketChangeSerializer(serializers.Serializer):
    """One change of the incremental export, with the ticket as it is now."""

    kind = serializers.ChoiceField(choices=TicketChange.Kind.choices, read_only=True)
    ticket_id = serializers.IntegerField(read_only=True)
    merged_into = serializers.IntegerField(
        source="merged_into_id", read_only=True, allow_null=True,
        help_text="The ticket this one was merged into (kind `merged`), else its current "
        "merge target or null.")
    changed_at = serializers.DateTimeField(read_only=True)
    ticket = TicketSerializer(
        read_only=True, allow_null=True, source="api_ticket",
        help_text="The ticket as it is now; null once deleted (kind `deleted`, or a later "
        "deletion that the stream will also show).")


class TicketChangesSerializer(serializers.Serializer):
    """A page of the incremental export."""

    changes = TicketChangeSerializer(many=True, read_only=True)
    after_cursor = serializers.CharField(
        read_only=True, help_text="Resume from here: pass it as `cursor` next time.")
    end_of_stream = serializers.BooleanField(
        read_only=True, help_text="True: nothing more to read now; poll again later from "
        "`after_cursor`. False: read `next` straight away.")
    next = serializers.URLField(read_only=True, help_text="This endpoint at `after_cursor`.")


# --- writing --------------------------------------------------------------------------

def _tag_list(**kwargs) -> serializers.ListField:
    kwargs.setdefault("help_text", "Tag names.")
    return serializers.ListField(child=serializers.CharField(max_length=50), required=False,
                                 **kwargs)


def _attachments() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.FileField(), required=False, default=list,
        help_text="Files, sent as multipart/form-data (repeat the field for several).",
    )


class TicketCreateSerializer(serializers.Serializer):
    subject = serializers.CharField(max_length=255)
    description = serializers.CharField()
    channel = serializers.ChoiceField(
        choices=Channel.choices, default=Channel.API,
        help_text="Defaults to api. Customers may only give web, email or api.",
    )
    priority = serializers.ChoiceField(
        choices=Priority.choices, required=False,
        help_text="Agents only (403 for customers: triggers decide).",
    )
    requester = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False,
        help_text="Agents only: the user the ticket is for. Customers file for "
        "themselves.",
    )
    category = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.all(), required=False, allow_null=True
    )
    product_area = serializers.PrimaryKeyRelatedField(
        queryset=ProductArea.objects.all(), required=False, allow_null=True
    )
    tags = _tag_list(help_text="Tag names (agents only; 403 for customers).")
    attachments = _attachments()
    custom_fields = CustomFieldValuesField(
        required=False, help_text="Custom field values by key. Customers may give only "
        "the fields they may edit, and must give those their category's form requires.")


class TicketUpdateSerializer(serializers.Serializer):
    """Fields an agent may change; status changes go through the transition endpoint."""

    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    category = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.all(), required=False, allow_null=True
    )
    product_area = serializers.PrimaryKeyRelatedField(
        queryset=ProductArea.objects.all(), required=False, allow_null=True
    )
    team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(), required=False, allow_null=True
    )
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True,
        help_text="An agent's user id, or null to put the ticket back in the queue.",
    )
    subject = serializers.CharField(max_length=255, required=False)
    tags = _tag_list(help_text="The complete new set of tag names (replaces the current set).")
    custom_fields = CustomFieldValuesField(
        required=False, help_text="Custom field values to change by key (null clears one); "
        "fields not given keep their values.")


class HandoffPacketSerializer(serializers.Serializer):
    """What the next tier needs; every field is required to escalate."""

    issue_summary = serializers.CharField(required=False, allow_blank=True)
    troubleshooting_done = serializers.CharField(required=False, allow_blank=True)
    reason = serializers.CharField(required=False, allow_blank=True,
                                   help_text="Why escalating.")
    customer_expectation = serializers.CharField(required=False, allow_blank=True)
    next_steps = serializers.CharField(required=False, allow_blank=True)


# No transition leads back to "new".
TARGET_CHOICES = [(value, label) for value, label in STATUS_CHOICES if value != Status.NEW]


class TransitionSerializer(serializers.Serializer):
    to = serializers.ChoiceField(
        choices=TARGET_CHOICES,
        help_text="Target status. escalated and engineering need a complete packet; "
        "escalated also needs to_team.",
    )
    reason = serializers.CharField(
        required=False, allow_blank=True, default="",
        help_text="Required to close, wait, return to queue or reopen.",
    )
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True,
        help_text="Agent user id; required to assign or start an unassigned ticket.",
    )
    to_team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(), required=False, allow_null=True,
        help_text="Team id to escalate to.",
    )
    packet = HandoffPacketSerializer(required=False, allow_null=True)


class MessageCreateSerializer(serializers.Serializer):
    body = serializers.CharField(required=False, allow_blank=True, default="")
    public = serializers.BooleanField(
        default=True,
        help_text="false writes an internal note (agents only: refused with 403 for "
        "customers, who write public replies).",
    )
    attachments = _attachments()


# --- errors ---------------------------------------------------------------------------


class TransitionErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    missing = serializers.ListField(
        child=serializers.CharField(), required=False,
        help_text="Inputs the transition needs that were not given (e.g. reason, "
        "packet.next_steps); absent when the request itself could not be read.",
    )


class ServiceValidationErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False,
        help_text="Messages by field, when the error concerns fields.",
    )

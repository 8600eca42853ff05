"""API shapes of tickets, their conversation and audit trail; input shapes only, no rules.

The rules (who may do what, which transition needs what) live in tickets.services.
"""
from __future__ import annotations

from django.urls import reverse
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from helpdesk.models import Team, User
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
            raise serializers.ValidationError("Give an object of field keys and values.")
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


class TicketListSerializer(serializers.ListSerializer):
    """Loads the satisfaction of a whole page of tickets in one query (agents only)."""

    def to_representation(self, data):
        items = list(data.all() if hasattr(data, "all") else data)
        if self.context.get("is_agent") and items:
            from .surveys import latest_satisfaction

            found = latest_satisfaction([t.pk for t in items])
            for ticket in items:
                ticket.api_satisfaction = found.get(ticket.pk)
        return super().to_representation(items)


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

    @extend_schema_field(HandoffPacketReadSerializer(allow_null=True))
    def get_handoff(self, ticket: Ticket) -> dict | None:
        if not self.context.get("is_agent"):
            return None
        escalations = getattr(ticket, "api_escalations", None)
        if escalations is None:  # not prefetched: one object, so one query is fine
            escalations = list(ticket.escalations.all()[:1])
        if not escalations:
            return None
        return HandoffPacketReadSerializer(escalations[0]).data

    @extend_schema_field(SatisfactionSerializer(allow_null=True))
    def get_satisfaction(self, ticket: Ticket) -> dict | None:
        if not self.context.get("is_agent"):
            return None
        if hasattr(ticket, "api_satisfaction"):  # loaded for the page by the list serializer
            found = ticket.api_satisfaction
        else:  # one ticket: one query is fine
            from .surveys import latest_satisfaction

            found = latest_satisfaction([ticket.pk]).get(ticket.pk)
        return SatisfactionSerializer(found).data if found is not None else None


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

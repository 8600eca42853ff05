"""API shapes of SLA clocks: per ticket, and in the approaching-breach list (read only)."""
from __future__ import annotations

from datetime import timedelta

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from helpdesk.ids import MAX_ID, MIN_ID
from helpdesk.serializers import (
    OrganizationBriefSerializer,
    TeamBriefSerializer,
    UserBriefSerializer,
)
from tickets.models import Ticket

from .models import Clock, LevelColour


def _seconds(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds())


class ClockSerializer(serializers.ModelSerializer):
    """One clock, with its business time used up to the moment of the answer."""

    metric_label = serializers.CharField(source="get_metric_display", read_only=True)
    state_label = serializers.CharField(source="get_state_display", read_only=True)
    policy = serializers.CharField(source="policy.name", read_only=True, allow_null=True,
                                   default=None)
    calendar = serializers.CharField(source="calendar.name", read_only=True, allow_null=True,
                                     default=None, help_text="Null: the clock runs 24/7.")
    target_seconds = serializers.SerializerMethodField(
        help_text="Contractual target, in business seconds (after multipliers and overrides).")
    internal_target_seconds = serializers.SerializerMethodField(
        help_text="The tighter internal goal, in business seconds.")
    business_used_seconds = serializers.SerializerMethodField(
        help_text="Business time used so far, including the running segment.")
    used_percent = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="Business time used as a share of the target.")
    is_active = serializers.BooleanField(read_only=True,
                                         help_text="Still counting or paused (not completed).")
    paused_since = serializers.SerializerMethodField(help_text="Set while the clock is paused.")
    level = serializers.ChoiceField(
        source="display_level", choices=LevelColour.choices, read_only=True, allow_blank=True,
        help_text="Colour of the highest warning level crossed ('' for none yet).")

    class Meta:
        model = Clock
        fields = [
            "id", "metric", "metric_label", "cycle", "state", "state_label", "is_active",
            "level", "policy", "calendar", "started_at", "due_at", "internal_due_at",
            "target_seconds", "internal_target_seconds", "business_used_seconds",
            "used_percent", "paused_since", "met_at", "breached_at", "internal_breached_at",
            "completed_at",
            "exempt_reason",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.INT)
    def get_target_seconds(self, clock: Clock) -> int | None:
        return _seconds(clock.target)

    @extend_schema_field(OpenApiTypes.INT)
    def get_internal_target_seconds(self, clock: Clock) -> int | None:
        return _seconds(clock.internal_target)

    @extend_schema_field(OpenApiTypes.INT)
    def get_business_used_seconds(self, clock: Clock) -> int | None:
        return _seconds(getattr(clock, "used_now", clock.business_used))

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_paused_since(self, clock: Clock) -> str | None:
        if clock.state != "paused" or clock.paused_at is None:
            return None
        return serializers.DateTimeField().to_representation(clock.paused_at)


class TicketSlaSerializer(serializers.Serializer):
    """The SLA state of one ticket: the earliest due time the queue sorts by, and each clock."""

    ticket = serializers.IntegerField(read_only=True)
    sla_due_at = serializers.DateTimeField(read_only=True, allow_null=True,
                                           help_text="Earliest due time of a counting clock.")
    sla_level = serializers.CharField(read_only=True, allow_blank=True,
                                      help_text="Colour the queue shows for that clock.")
    clocks = ClockSerializer(many=True, read_only=True)


class SlaTicketBriefSerializer(serializers.ModelSerializer):
    priority_label = serializers.CharField(source="get_priority_display", read_only=True)
    team = TeamBriefSerializer(read_only=True, allow_null=True)
    assignee = UserBriefSerializer(read_only=True, allow_null=True)
    organization = OrganizationBriefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Ticket
        fields = ["id", "subject", "status", "priority", "priority_label", "team", "assignee",
                  "organization"]
        read_only_fields = fields


class ApproachingClockSerializer(ClockSerializer):
    ticket = SlaTicketBriefSerializer(read_only=True)

    class Meta(ClockSerializer.Meta):
        fields = ["ticket", *ClockSerializer.Meta.fields]
        read_only_fields = fields


class ApproachingQuerySerializer(serializers.Serializer):
    within = serializers.IntegerField(
        required=False, default=60, min_value=1, max_value=7 * 24 * 60,
        help_text="Minutes ahead (default 60); overdue clocks are always listed.")
    team = serializers.IntegerField(required=False, min_value=MIN_ID, max_value=MAX_ID,
                                    help_text="Only tickets of this team.")

"""API shapes of incidents (staff) and of the public status feed."""
from __future__ import annotations

from rest_framework import serializers

from .models import Incident, IncidentRole, PublicUpdate, TimelineEntry


class RoleSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.display_name")

    class Meta:
        model = IncidentRole
        fields = ["role", "user", "assigned_at"]


class TimelineEntrySerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.display_name", default=None,
                                   allow_null=True, help_text="Null for the system.")

    class Meta:
        model = TimelineEntry
        fields = ["id", "kind", "body", "author", "created_at"]


class PublicUpdateSerializer(serializers.ModelSerializer):
    class Meta:
        model = PublicUpdate
        fields = ["id", "kind", "status", "body", "created_at"]


class IncidentSerializer(serializers.ModelSerializer):
    reference = serializers.CharField(read_only=True)
    severity = serializers.CharField(source="severity.label")
    ticket_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Incident
        fields = ["id", "reference", "title", "severity", "suggested_level", "status",
                  "declared_at", "resolved_at", "next_update_due_at", "ticket_count"]


class IncidentDetailSerializer(IncidentSerializer):
    roles = RoleSerializer(many=True)
    timeline = TimelineEntrySerializer(many=True)
    updates = PublicUpdateSerializer(many=True)

    class Meta(IncidentSerializer.Meta):
        fields = [*IncidentSerializer.Meta.fields, "description", "roles", "timeline",
                  "updates"]

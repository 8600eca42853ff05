"""Shapes of the casework API (read models and the tracker status sync)."""
from __future__ import annotations

from rest_framework import serializers

from .models import EngineeringLink, Evidence, Investigation, PlaybookRun


class EvidenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Evidence
        fields = ["id", "kind", "summary", "link", "attachment", "created_at", "verified",
                  "verified_at"]


class EngineeringLinkSerializer(serializers.ModelSerializer):
    class Meta:
        model = EngineeringLink
        fields = ["id", "ticket", "tracker", "key", "url", "status", "synced_at"]
        read_only_fields = ["id", "ticket", "tracker", "key", "url", "synced_at"]


class PlaybookRunSerializer(serializers.ModelSerializer):
    playbook_name = serializers.CharField(source="playbook.name")
    steps_done = serializers.IntegerField(source="checks.count")

    class Meta:
        model = PlaybookRun
        fields = ["playbook", "playbook_name", "started_at", "steps_done"]


class InvestigationSerializer(serializers.ModelSerializer):
    evidence = EvidenceSerializer(many=True, read_only=True)
    time_to_first_evidence_seconds = serializers.IntegerField(
        source="first_evidence_seconds", allow_null=True)

    class Meta:
        model = Investigation
        fields = ["ticket", "goal", "actual", "environment", "version", "hypothesis",
                  "next_step", "decision", "assigned_at", "first_evidence_at",
                  "time_to_first_evidence_seconds", "updated_at", "evidence"]


class LinkStatusSerializer(serializers.Serializer):
    status = serializers.CharField(max_length=100, allow_blank=True)


class TicketCaseworkSerializer(serializers.Serializer):
    """GET /tickets/{id}/investigation/: the investigation (or null) and what hangs off it."""

    investigation = InvestigationSerializer(allow_null=True)
    playbooks = PlaybookRunSerializer(many=True)
    engineering_links = EngineeringLinkSerializer(many=True)

"""Serializers of the email channel API (read shapes only)."""
from __future__ import annotations

from rest_framework import serializers

from .models import InboundMessage, OutboundEmail


class OutboundEmailSerializer(serializers.ModelSerializer):
    class Meta:
        model = OutboundEmail
        fields = ["id", "kind", "message_id", "in_reply_to", "to", "subject", "status",
                  "attempts", "last_error", "created_at", "sent_at"]


class InboundMessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = InboundMessage
        fields = ["id", "message_id", "from_address", "subject", "status", "reason",
                  "received_at"]


class TicketMailSerializer(serializers.Serializer):
    ticket = serializers.IntegerField()
    inbound = InboundMessageSerializer(many=True)
    outbound = OutboundEmailSerializer(many=True)

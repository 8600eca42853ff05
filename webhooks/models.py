"""Webhook endpoints that admins configure, and the log of what was sent to them."""
from __future__ import annotations

import secrets
import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class EventType(models.TextChoices):
    TICKET_CREATED = "ticket.created", "Ticket created"
    TICKET_UPDATED = "ticket.updated", "Ticket updated"
    TICKET_REPLIED = "ticket.replied", "Ticket replied (public reply)"
    SLA_LEVEL_REACHED = "sla.level_reached", "SLA level reached"
    INCIDENT_UPDATED = "incident.updated", "Incident updated"
    SURVEY_ANSWERED = "survey.answered", "Survey answered"
    RULE_FIRED = "ticket.rule_fired", "A trigger or automation called this endpoint"


SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


class Endpoint(models.Model):
    """Where events go. The secret signs every body; it never leaves in a payload."""

    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500, help_text="http(s) URL that receives a POST per event.")
    events = models.JSONField(default=list, help_text="The event types sent to this endpoint.")
    secret = models.CharField(max_length=100, default=new_secret, editable=False)
    timeout_seconds = models.FloatField(
        default=5.0, validators=[MinValueValidator(0.1), MaxValueValidator(30.0)],
        help_text="Seconds to wait for the receiver's answer; slower counts as a failure.")
    is_active = models.BooleanField(default=True)
    # The first failure since the last success: a day of failures disables the endpoint.
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def wants(self, event_type: str) -> bool:
        return self.is_active and event_type in (self.events or [])

    @property
    def masked_secret(self) -> str:
        return f"{SECRET_PREFIX}…{self.secret[-4:]}"


class Delivery(models.Model):
    """One event for one endpoint: unique, so a twice-dispatched event is sent once."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed (gave up)"

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(help_text="Also the Idempotency-Key header.")
    event_type = models.CharField(max_length=40, choices=EventType.choices)
    # The exact bytes signed and sent, so a retry or a redelivery sends the same body.
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # Due time of the next attempt (the retry scan's indexed column); None once finished.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "deliveries"
        constraints = [models.UniqueConstraint(fields=["endpoint", "event_id"],
                                               name="webhook_one_delivery_per_event")]
        indexes = [models.Index(fields=["next_attempt_at"], name="webhook_delivery_due",
                                condition=models.Q(next_attempt_at__isnull=False))]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} → {self.endpoint}"


class Attempt(models.Model):
    """One HTTP request of a delivery: what the receiver answered, or why it did not."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField()
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=500, blank=True)
    succeeded = models.BooleanField(default=False)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["endpoint", "-at"], name="webhook_attempt_recent")]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"


def new_event_id() -> uuid.UUID:
    return uuid.uuid4()

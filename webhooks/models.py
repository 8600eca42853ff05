"""Webhook endpoints that admins configure, and the log of what was sent to them."""
from __future__ import annotations

import secrets
import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class EventType(models.TextChoices):
    TICKET_CREATED = "ticket.created", _("Ticket created")
    TICKET_UPDATED = "ticket.updated", _("Ticket updated")
    TICKET_REPLIED = "ticket.replied", _("Ticket replied (public reply)")
    SLA_LEVEL_REACHED = "sla.level_reached", _("SLA level reached")
    INCIDENT_UPDATED = "incident.updated", _("Incident updated")
    SURVEY_ANSWERED = "survey.answered", _("Survey answered")
    RULE_FIRED = "ticket.rule_fired", _("A trigger or automation called this endpoint")


SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


class Endpoint(models.Model):
    """Where events go. The secret signs every body; it never leaves in a payload."""

    name = models.CharField(max_length=100, verbose_name=_("name"))
    url = models.URLField(max_length=500,
                          help_text=_("http(s) URL that receives a POST per event."),
                          verbose_name=_("url"))
    events = models.JSONField(default=list, help_text=_("The event types sent to this endpoint."),
                              verbose_name=_("events"))
    secret = models.CharField(max_length=100, default=new_secret, editable=False,
                              verbose_name=_("secret"))
    timeout_seconds = models.FloatField(
        default=5.0, validators=[MinValueValidator(0.1), MaxValueValidator(30.0)],
        help_text=_("Seconds to wait for the receiver's answer; slower counts as a failure."),
        verbose_name=_("timeout seconds"))
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))
    # The first failure since the last success: a day of failures disables the endpoint.
    failing_since = models.DateTimeField(null=True, blank=True, verbose_name=_("failing since"))
    disabled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("disabled at"))
    disabled_reason = models.CharField(max_length=255, blank=True,
                                       verbose_name=_("disabled reason"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("endpoint")
        verbose_name_plural = _("endpoints")
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
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed (gave up)")

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries",
                                 verbose_name=_("endpoint"))
    event_id = models.UUIDField(help_text=_("Also the Idempotency-Key header."),
                                verbose_name=_("event id"))
    event_type = models.CharField(max_length=40, choices=EventType.choices,
                                  verbose_name=_("event type"))
    # The exact bytes signed and sent, so a retry or a redelivery sends the same body.
    body = models.TextField(verbose_name=_("body"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING,
                              verbose_name=_("status"))
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    # Due time of the next attempt (the retry scan's indexed column); None once finished.
    next_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next attempt at"))
    created_at = models.DateTimeField(verbose_name=_("created at"))
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delivered at"))
    last_error = models.CharField(max_length=500, blank=True, verbose_name=_("last error"))

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [models.UniqueConstraint(fields=["endpoint", "event_id"],
                                               name="webhook_one_delivery_per_event")]
        indexes = [models.Index(fields=["next_attempt_at"], name="webhook_delivery_due",
                                condition=models.Q(next_attempt_at__isnull=False))]

    def __str__(self) -> str:
        return f"{self.get_event_type_display()} {self.event_id} → {self.endpoint}"


class Attempt(models.Model):
    """One HTTP request of a delivery: what the receiver answered, or why it did not."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log",
                                 verbose_name=_("delivery"))
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="attempts",
                                 verbose_name=_("endpoint"))
    number = models.PositiveIntegerField(verbose_name=_("number"))
    at = models.DateTimeField(verbose_name=_("at"))
    status_code = models.PositiveSmallIntegerField(null=True, blank=True,
                                                   verbose_name=_("status code"))
    latency_ms = models.PositiveIntegerField(verbose_name=_("latency ms"))
    response_excerpt = models.CharField(max_length=500, blank=True,
                                        verbose_name=_("response excerpt"))
    error = models.CharField(max_length=500, blank=True, verbose_name=_("error"))
    succeeded = models.BooleanField(default=False, verbose_name=_("succeeded"))

    class Meta:
        verbose_name = _("attempt")
        verbose_name_plural = _("attempts")
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["endpoint", "-at"], name="webhook_attempt_recent")]

    def __str__(self) -> str:
        return gettext("attempt %(number)s of %(delivery)s") % {"number": self.number,
                                                               "delivery": self.delivery_id}


def new_event_id() -> uuid.UUID:
    return uuid.uuid4()

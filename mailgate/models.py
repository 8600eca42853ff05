"""Email channel: mailboxes, every inbound message (once per Message-ID), quarantine, outbox."""
from __future__ import annotations

import os

from django.db import models
from django.utils import timezone

from tickets.models import Priority


class Mailbox(models.Model):
    """A support address polled over IMAP and/or fed by an MTA or webhook.

    Secrets never live in the database: the IMAP password and the inbound webhook token
    are read from the environment variables named here.
    """

    name = models.SlugField(max_length=50, unique=True,
                            help_text="Used in the inbound URL /mail/inbound/<name>/.")
    address = models.EmailField(unique=True, help_text="Customers write to (and see) this.")
    imap_host = models.CharField(max_length=200, blank=True)
    imap_port = models.PositiveIntegerField(default=993)
    imap_tls = models.BooleanField("IMAP over TLS", default=True,
                                   help_text="Turn off only for a local test server.")
    username = models.CharField(max_length=200, blank=True)
    password_env = models.CharField(
        "password environment variable", max_length=100, blank=True,
        help_text="Name of the environment variable holding the IMAP password.")
    webhook_token_env = models.CharField(
        "webhook token environment variable", max_length=100, blank=True,
        help_text="Name of the environment variable holding the bearer token that "
                  "POST /mail/inbound/<name>/ requires. Empty: the endpoint is off.")
    folder = models.CharField(max_length=200, default="INBOX")
    allow_new_customers = models.BooleanField(
        default=True, help_text="Unknown senders get a customer account; otherwise ignored.")
    default_team = models.ForeignKey("helpdesk.Team", null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    default_priority = models.PositiveSmallIntegerField(choices=Priority.choices, null=True,
                                                        blank=True)
    is_active = models.BooleanField(default=True, help_text="Polled by the beat job.")
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_uid = models.PositiveBigIntegerField(default=0, help_text="Last IMAP UID ingested.")
    uid_validity = models.PositiveBigIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "mailboxes"

    def __str__(self) -> str:
        return f"{self.name} <{self.address}>"

    def password(self) -> str:
        return os.environ.get(self.password_env, "") if self.password_env else ""

    def webhook_token(self) -> str:
        return os.environ.get(self.webhook_token_env, "") if self.webhook_token_env else ""


def raw_path(instance: models.Model, filename: str) -> str:
    now = timezone.now()
    return f"mail/{now:%Y/%m/%d}/{filename}"


class InboundStatus(models.TextChoices):
    TICKET_CREATED = "ticket_created", "Ticket created"
    REPLY_ADDED = "reply_added", "Reply added"
    IGNORED_LOOP = "ignored_loop", "Ignored (auto-reply, bounce, list, own address)"
    IGNORED_SENDER = "ignored_sender", "Ignored (unknown sender, mailbox closed to new ones)"
    QUARANTINED = "quarantined", "Quarantined"


class InboundMessage(models.Model):
    """Every message that reached a mailbox, once: the unique Message-ID makes a second
    fetch of the same mail a no-op."""

    message_id = models.CharField(max_length=255, unique=True)
    mailbox = models.ForeignKey(Mailbox, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="messages")
    raw = models.FileField(upload_to=raw_path, max_length=300)
    from_address = models.EmailField(max_length=254, blank=True, db_index=True)
    subject = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=20, choices=InboundStatus.choices)
    reason = models.TextField(blank=True, help_text="Why it was ignored or quarantined.")
    ticket = models.ForeignKey("tickets.Ticket", null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    ticket_message = models.ForeignKey("tickets.Message", null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")
    received_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["ticket", "received_at"], name="inbound_ticket_time")]

    def __str__(self) -> str:
        return f"{self.message_id} ({self.get_status_display()})"


class Quarantine(models.Model):
    """A message that could not be ingested, kept with its error until someone retries."""

    mailbox = models.ForeignKey(Mailbox, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="quarantined")
    raw = models.FileField(upload_to=raw_path, max_length=300)
    sha256 = models.CharField(max_length=64, db_index=True)
    size = models.PositiveIntegerField(default=0)
    error = models.TextField()
    received_at = models.DateTimeField(db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    inbound = models.ForeignKey(InboundMessage, null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+",
                                help_text="Set when a retry ingested it.")

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = "quarantined message"

    def __str__(self) -> str:
        return f"quarantined {self.received_at:%Y-%m-%d %H:%M}: {self.error[:60]}"


class OutboundStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    # Notifications and surveys are delivered (once) by their own services; their row
    # only records the Message-ID so replies to them thread back to the ticket.
    EXTERNAL = "external", "Sent by its own service"


class OutboundEmail(models.Model):
    """One e-mail we send, keyed so that a retried task never sends it twice."""

    key = models.CharField(max_length=100, unique=True,
                           help_text="What it is for, e.g. reply:<message id>.")
    kind = models.CharField(max_length=20, default="reply")
    ticket = models.ForeignKey("tickets.Ticket", null=True, blank=True,
                               on_delete=models.CASCADE, related_name="+")
    ticket_message = models.ForeignKey("tickets.Message", null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")
    mailbox = models.ForeignKey(Mailbox, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    message_id = models.CharField(max_length=255, unique=True)
    in_reply_to = models.CharField(max_length=255, blank=True)
    references = models.TextField(blank=True)
    to = models.TextField(help_text="Recipients, comma-separated.")
    subject = models.CharField(max_length=300)
    status = models.CharField(max_length=10, choices=OutboundStatus.choices,
                              default=OutboundStatus.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(
        null=True, blank=True,
        help_text="When the last send was tried: a retry lost with the broker is due again "
                  "after its backoff.")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["ticket", "created_at"], name="outbound_ticket_time"),
            models.Index(fields=["status", "created_at"], name="outbound_status_time"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.get_status_display()})"

    @property
    def recipients(self) -> list[str]:
        return [a.strip() for a in self.to.split(",") if a.strip()]


"""Email channel: mailboxes, every inbound message (once per Message-ID and content),
quarantine, outbox, and the addresses whose mail bounces."""
from __future__ import annotations

import os

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tickets.models import Priority

from .reports import describe


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
    BOUNCE = "bounce", "Delivery report recorded on its ticket"
    AUTO_REPLY = "auto_reply", "Automatic reply recorded on its ticket"


class InboundMessage(models.Model):
    """Every message that reached a mailbox, once: the same Message-ID with the same
    content makes a second fetch of the same mail a no-op, while another message under a
    reused Message-ID is kept."""

    message_id = models.CharField(max_length=255, db_index=True)
    content_hash = models.CharField(
        max_length=64, blank=True,
        help_text="SHA-256 of the message without its trace headers (parsing.content_hash); "
                  "empty on rows stored before it existed, which match any content.")
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
        constraints = [models.UniqueConstraint(fields=["message_id", "content_hash"],
                                               name="inbound_once_per_content")]

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
    # A customer notice not sent: the address reached the hourly cap (loop safety), or
    # nobody of the ticket wanted a reply by e-mail.
    SUPPRESSED = "suppressed", "Not sent (hourly cap or preferences)"


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
    # Customer notices: rendered at send time from the notice template `notice`, with the
    # event's own values in `context`, so the request that caused them only writes rows.
    notice = models.CharField(max_length=40, blank=True,
                              help_text="Notice template key, e.g. customer.resolved.")
    context = models.JSONField(default=dict, blank=True)
    recipient = models.EmailField(max_length=254, blank=True,
                                  help_text="The one person an automatic notice is for.")
    automatic = models.BooleanField(
        default=False, help_text="Sent by the system, not written by a person: "
                                 "Auto-Submitted: auto-generated.")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["ticket", "created_at"], name="outbound_ticket_time"),
            models.Index(fields=["status", "created_at"], name="outbound_status_time"),
            # The hourly cap counts an address's recent automatic notices.
            models.Index(fields=["recipient", "created_at"], name="outbound_recipient_time"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.get_status_display()})"

    @property
    def recipients(self) -> list[str]:
        return [a.strip() for a in self.to.split(",") if a.strip()]



class BounceMark(models.Model):
    """An address our mail bounced from: automatic mail to it is held until an agent
    clears the mark (agents' own replies still go out). One row per address; a new
    failure after clearing sets it again."""

    address = models.EmailField(max_length=254, unique=True, help_text="Lower-cased.")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+",
                             help_text="The person with this address, when there is one.")
    status = models.CharField(max_length=20, blank=True, help_text="RFC 3463, e.g. 5.1.1.")
    reason = models.TextField(blank=True, help_text="What the receiving server said.")
    bounced_at = models.DateTimeField(help_text="The latest failure.")
    failures = models.PositiveIntegerField(default=1, help_text="Failures since it was set.")
    ticket = models.ForeignKey("tickets.Ticket", null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    outbound = models.ForeignKey(OutboundEmail, null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+",
                                 help_text="The e-mail that bounced.")
    report = models.ForeignKey(InboundMessage, null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+",
                               help_text="The delivery report.")
    cleared_at = models.DateTimeField(null=True, blank=True)
    cleared_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-bounced_at", "-id"]

    def __str__(self) -> str:
        state = "cleared" if self.cleared_at else "held"
        return f"{self.address} ({self.status or 'bounced'}, {state})"

    @property
    def is_held(self) -> bool:
        return self.cleared_at is None

    @property
    def status_text(self) -> str:
        return describe(self.status)


class HeldEmail(models.Model):
    """An automatic e-mail not sent to a bouncing address: one row per e-mail and address,
    so a retried build records it once."""

    mark = models.ForeignKey(BounceMark, on_delete=models.CASCADE, related_name="held")
    address = models.EmailField(max_length=254)
    key = models.CharField(max_length=100, help_text="The e-mail's key, e.g. survey:12.")
    kind = models.CharField(max_length=20)
    subject = models.CharField(max_length=300)
    ticket = models.ForeignKey("tickets.Ticket", null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    held_at = models.DateTimeField()

    class Meta:
        ordering = ["-held_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["key", "address"],
                                               name="held_once_per_address")]

    def __str__(self) -> str:
        return f"{self.kind} to {self.address} held"


class CustomerMailPreference(models.Model):
    """What a customer wants by e-mail. No row: everything on. Replies to their own
    tickets go out unless `all_email` is off."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="customer_mail_preference")
    all_email = models.BooleanField(
        _("e-mail at all"), default=True,
        help_text=_("Off: no e-mail about tickets at all (the portal still shows everything)."))
    status_updates = models.BooleanField(
        default=True,
        help_text=_("Acknowledgements and status changes (waiting, resolved, closed, merged)."))
    reminders = models.BooleanField(default=True,
                                    help_text=_("Reminders while a ticket waits on you."))
    incident_updates = models.BooleanField(default=True,
                                           help_text=_("Updates about service incidents."))
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"e-mail preferences of {self.user}"


class TeamSender(models.Model):
    """How a team signs the e-mails customers get about its tickets."""

    team = models.OneToOneField("helpdesk.Team", on_delete=models.CASCADE,
                                related_name="mail_sender")
    sender_name = models.CharField(max_length=100,
                                   help_text='Shown as the From name, e.g. "Acme Support".')
    signature = models.TextField(blank=True, help_text="Plain text under every notice.")

    class Meta:
        verbose_name = "team sender and signature"

    def __str__(self) -> str:
        return f"{self.sender_name} ({self.team})"


class WaitingTicket(models.Model):
    """A ticket waiting on its customer: when the next reminder or the automatic
    resolution is due. Written when the wait starts, removed when it ends; the periodic
    scan reads the indexed `next_due_at`, so its cost follows the work due."""

    ticket = models.OneToOneField("tickets.Ticket", on_delete=models.CASCADE,
                                  related_name="+")
    waiting_since = models.DateTimeField()
    step = models.PositiveSmallIntegerField(
        default=0, help_text="Reminders already sent in this wait.")
    next_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    auto_resolved_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"#{self.ticket_id} waiting since {self.waiting_since:%Y-%m-%d %H:%M}"

"""Email channel: mailboxes, every inbound message (once per Message-ID and content),
quarantine, outbox, and the addresses whose mail bounces."""
from __future__ import annotations

import os

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from tickets.models import Priority

from .reports import describe


class Mailbox(models.Model):
    """A support address polled over IMAP and/or fed by an MTA or webhook.

    Secrets never live in the database: the IMAP password and the inbound webhook token
    are read from the environment variables named here.
    """

    name = models.SlugField(max_length=50, unique=True,
                            help_text=_("Used in the inbound URL /mail/inbound/<name>/."),
                            verbose_name=_("name"))
    address = models.EmailField(unique=True, help_text=_("Customers write to (and see) this."),
                                verbose_name=_("address"))
    imap_host = models.CharField(max_length=200, blank=True, verbose_name=_("imap host"))
    imap_port = models.PositiveIntegerField(default=993, verbose_name=_("imap port"))
    imap_tls = models.BooleanField(_("IMAP over TLS"), default=True,
                                   help_text=_("Turn off only for a local test server."))
    username = models.CharField(max_length=200, blank=True, verbose_name=_("username"))
    password_env = models.CharField(
        _("password environment variable"), max_length=100, blank=True,
        help_text=_("Name of the environment variable holding the IMAP password."))
    webhook_token_env = models.CharField(
        _("webhook token environment variable"), max_length=100, blank=True,
        help_text=_("Name of the environment variable holding the bearer token that "
                    "POST /mail/inbound/<name>/ requires. Empty: the endpoint is off."))
    folder = models.CharField(max_length=200, default="INBOX", verbose_name=_("folder"))
    allow_new_customers = models.BooleanField(
        default=True, help_text=_("Unknown senders get a customer account; otherwise ignored."),
        verbose_name=_("allow new customers"))
    default_team = models.ForeignKey("helpdesk.Team", null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+",
                                     verbose_name=_("default team"))
    default_priority = models.PositiveSmallIntegerField(choices=Priority.choices, null=True,
                                                        blank=True,
                                                        verbose_name=_("default priority"))
    is_active = models.BooleanField(default=True, help_text=_("Polled by the beat job."),
                                    verbose_name=_("is active"))
    last_polled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last polled at"))
    last_uid = models.PositiveBigIntegerField(default=0, help_text=_("Last IMAP UID ingested."),
                                              verbose_name=_("last uid"))
    uid_validity = models.PositiveBigIntegerField(default=0, verbose_name=_("uid validity"))
    last_error = models.TextField(blank=True, verbose_name=_("last error"))

    class Meta:
        ordering = ["name"]
        verbose_name = _("mailbox")
        verbose_name_plural = _("mailboxes")

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
    TICKET_CREATED = "ticket_created", _("Ticket created")
    REPLY_ADDED = "reply_added", _("Reply added")
    IGNORED_LOOP = "ignored_loop", _("Ignored (auto-reply, bounce, list, own address)")
    IGNORED_SENDER = "ignored_sender", _("Ignored (unknown sender, mailbox closed to new ones)")
    QUARANTINED = "quarantined", _("Quarantined")
    BOUNCE = "bounce", _("Delivery report recorded on its ticket")
    AUTO_REPLY = "auto_reply", _("Automatic reply recorded on its ticket")


class InboundMessage(models.Model):
    """Every message that reached a mailbox, once: the same Message-ID with the same
    content makes a second fetch of the same mail a no-op, while another message under a
    reused Message-ID is kept."""

    message_id = models.CharField(max_length=255, db_index=True, verbose_name=_("message id"))
    content_hash = models.CharField(
        max_length=64, blank=True,
        help_text=_("SHA-256 of the message without its trace headers (parsing.content_hash); "
                    "empty on rows stored before it existed, which match any content."),
        verbose_name=_("content hash"))
    mailbox = models.ForeignKey(Mailbox, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="messages", verbose_name=_("mailbox"))
    raw = models.FileField(upload_to=raw_path, max_length=300, verbose_name=_("raw"))
    from_address = models.EmailField(max_length=254, blank=True, db_index=True,
                                     verbose_name=_("from address"))
    subject = models.CharField(max_length=255, blank=True, verbose_name=_("subject"))
    status = models.CharField(max_length=20, choices=InboundStatus.choices,
                              verbose_name=_("status"))
    reason = models.TextField(blank=True, help_text=_("Why it was ignored or quarantined."),
                              verbose_name=_("reason"))
    ticket = models.ForeignKey("tickets.Ticket", null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+",
                               verbose_name=_("ticket"))
    ticket_message = models.ForeignKey("tickets.Message", null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+",
                                verbose_name=_("ticket message"))
    received_at = models.DateTimeField(db_index=True, verbose_name=_("received at"))

    class Meta:
        verbose_name = _("inbound message")
        verbose_name_plural = _("inbound messages")
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["ticket", "received_at"], name="inbound_ticket_time")]
        constraints = [models.UniqueConstraint(fields=["message_id", "content_hash"],
                                               name="inbound_once_per_content")]

    def __str__(self) -> str:
        return f"{self.message_id} ({self.get_status_display()})"


class Quarantine(models.Model):
    """A message that could not be ingested, kept with its error until someone retries."""

    mailbox = models.ForeignKey(Mailbox, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="quarantined", verbose_name=_("mailbox"))
    raw = models.FileField(upload_to=raw_path, max_length=300, verbose_name=_("raw"))
    sha256 = models.CharField(max_length=64, db_index=True, verbose_name=_("sha256"))
    size = models.PositiveIntegerField(default=0, verbose_name=_("size"))
    error = models.TextField(verbose_name=_("error"))
    received_at = models.DateTimeField(db_index=True, verbose_name=_("received at"))
    resolved_at = models.DateTimeField(null=True, blank=True, verbose_name=_("resolved at"))
    inbound = models.ForeignKey(InboundMessage, null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+",
                                help_text=_("Set when a retry ingested it."),
                                verbose_name=_("inbound"))

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("quarantined message")
        verbose_name_plural = _("quarantined messages")

    def __str__(self) -> str:
        return gettext("quarantined %(received)s: %(error)s") % {
            "received": f"{self.received_at:%Y-%m-%d %H:%M}", "error": self.error[:60]}


class OutboundStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    # Notifications and surveys are delivered (once) by their own services; their row
    # only records the Message-ID so replies to them thread back to the ticket.
    EXTERNAL = "external", _("Sent by its own service")
    # A customer notice not sent: the address reached the hourly cap (loop safety), or
    # nobody of the ticket wanted a reply by e-mail.
    SUPPRESSED = "suppressed", _("Not sent (hourly cap or preferences)")


class OutboundEmail(models.Model):
    """One e-mail we send, keyed so that a retried task never sends it twice."""

    key = models.CharField(max_length=100, unique=True,
                           help_text=_("What it is for, e.g. reply:<message id>."),
                           verbose_name=_("key"))
    kind = models.CharField(max_length=20, default="reply", verbose_name=_("kind"))
    ticket = models.ForeignKey("tickets.Ticket", null=True, blank=True,
                               on_delete=models.CASCADE, related_name="+", verbose_name=_("ticket"))
    ticket_message = models.ForeignKey("tickets.Message", null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+",
                                verbose_name=_("ticket message"))
    mailbox = models.ForeignKey(Mailbox, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+", verbose_name=_("mailbox"))
    message_id = models.CharField(max_length=255, unique=True, verbose_name=_("message id"))
    in_reply_to = models.CharField(max_length=255, blank=True, verbose_name=_("in reply to"))
    references = models.TextField(blank=True, verbose_name=_("references"))
    to = models.TextField(help_text=_("Recipients, comma-separated."), verbose_name=_("to"))
    subject = models.CharField(max_length=300, verbose_name=_("subject"))
    status = models.CharField(max_length=10, choices=OutboundStatus.choices,
                              default=OutboundStatus.QUEUED, verbose_name=_("status"))
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    last_error = models.TextField(blank=True, verbose_name=_("last error"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))
    last_attempt_at = models.DateTimeField(
        null=True, blank=True,
        help_text=_("When the last send was tried: a retry lost with the broker is due again "
                    "after its backoff."), verbose_name=_("last attempt at"))
    # Customer notices: rendered at send time from the notice template `notice`, with the
    # event's own values in `context`, so the request that caused them only writes rows.
    notice = models.CharField(max_length=40, blank=True,
                              help_text=_("Notice template key, e.g. customer.resolved."),
                              verbose_name=_("notice"))
    context = models.JSONField(default=dict, blank=True, verbose_name=_("context"))
    recipient = models.EmailField(max_length=254, blank=True,
                                  help_text=_("The one person an automatic notice is for."),
                                  verbose_name=_("recipient"))
    automatic = models.BooleanField(
        default=False, help_text=_("Sent by the system, not written by a person: "
                                   "Auto-Submitted: auto-generated."), verbose_name=_("automatic"))

    class Meta:
        verbose_name = _("outbound email")
        verbose_name_plural = _("outbound emails")
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

    address = models.EmailField(max_length=254, unique=True, help_text=_("Lower-cased."),
                                verbose_name=_("address"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+",
                             help_text=_("The person with this address, when there is one."),
                             verbose_name=_("user"))
    status = models.CharField(max_length=20, blank=True, help_text=_("RFC 3463, e.g. 5.1.1."),
                              verbose_name=_("status"))
    reason = models.TextField(blank=True, help_text=_("What the receiving server said."),
                              verbose_name=_("reason"))
    bounced_at = models.DateTimeField(help_text=_("The latest failure."),
                                      verbose_name=_("bounced at"))
    failures = models.PositiveIntegerField(default=1, help_text=_("Failures since it was set."),
                                           verbose_name=_("failures"))
    ticket = models.ForeignKey("tickets.Ticket", null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+",
                               verbose_name=_("ticket"))
    outbound = models.ForeignKey(OutboundEmail, null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+",
                                 help_text=_("The e-mail that bounced."),
                                 verbose_name=_("outbound"))
    report = models.ForeignKey(InboundMessage, null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+",
                               help_text=_("The delivery report."), verbose_name=_("report"))
    cleared_at = models.DateTimeField(null=True, blank=True, verbose_name=_("cleared at"))
    cleared_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+",
                                   verbose_name=_("cleared by"))

    class Meta:
        verbose_name = _("bounce mark")
        verbose_name_plural = _("bounce marks")
        ordering = ["-bounced_at", "-id"]

    def __str__(self) -> str:
        values = {"address": self.address, "status": self.status or gettext("bounced")}
        if self.cleared_at:
            return gettext("%(address)s (%(status)s, cleared)") % values
        return gettext("%(address)s (%(status)s, held)") % values

    @property
    def is_held(self) -> bool:
        return self.cleared_at is None

    @property
    def status_text(self) -> str:
        return describe(self.status)


class HeldEmail(models.Model):
    """An automatic e-mail not sent to a bouncing address: one row per e-mail and address,
    so a retried build records it once."""

    mark = models.ForeignKey(BounceMark, on_delete=models.CASCADE, related_name="held",
                             verbose_name=_("mark"))
    address = models.EmailField(max_length=254, verbose_name=_("address"))
    key = models.CharField(max_length=100, help_text=_("The e-mail's key, e.g. survey:12."),
                           verbose_name=_("key"))
    kind = models.CharField(max_length=20, verbose_name=_("kind"))
    subject = models.CharField(max_length=300, verbose_name=_("subject"))
    ticket = models.ForeignKey("tickets.Ticket", null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+",
                               verbose_name=_("ticket"))
    held_at = models.DateTimeField(verbose_name=_("held at"))

    class Meta:
        verbose_name = _("held email")
        verbose_name_plural = _("held emails")
        ordering = ["-held_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["key", "address"],
                                               name="held_once_per_address")]

    def __str__(self) -> str:
        return gettext("%(kind)s to %(address)s held") % {"kind": self.kind,
                                                          "address": self.address}


class CustomerMailPreference(models.Model):
    """What a customer wants by e-mail. No row: everything on. Replies to their own
    tickets go out unless `all_email` is off."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="customer_mail_preference", verbose_name=_("user"))
    all_email = models.BooleanField(
        _("e-mail at all"), default=True,
        help_text=_("Off: no e-mail about tickets at all (the portal still shows everything)."))
    status_updates = models.BooleanField(
        default=True,
        help_text=_("Acknowledgements and status changes (waiting, resolved, closed, merged)."),
        verbose_name=_("status updates"))
    reminders = models.BooleanField(default=True,
                                    help_text=_("Reminders while a ticket waits on you."),
                                    verbose_name=_("reminders"))
    incident_updates = models.BooleanField(default=True,
                                           help_text=_("Updates about service incidents."),
                                           verbose_name=_("incident updates"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("customer mail preference")
        verbose_name_plural = _("customer mail preferences")

    def __str__(self) -> str:
        return gettext("e-mail preferences of %(user)s") % {"user": self.user}


class TeamSender(models.Model):
    """How a team signs the e-mails customers get about its tickets."""

    team = models.OneToOneField("helpdesk.Team", on_delete=models.CASCADE,
                                related_name="mail_sender", verbose_name=_("team"))
    sender_name = models.CharField(max_length=100,
                                   help_text=_('Shown as the From name, e.g. "Acme Support".'),
                                   verbose_name=_("sender name"))
    signature = models.TextField(blank=True, help_text=_("Plain text under every notice."),
                                 verbose_name=_("signature"))

    class Meta:
        verbose_name = _("team sender and signature")
        verbose_name_plural = _("team senders and signatures")

    def __str__(self) -> str:
        return f"{self.sender_name} ({self.team})"


class WaitingTicket(models.Model):
    """A ticket waiting on its customer: when the next reminder or the automatic
    resolution is due. Written when the wait starts, removed when it ends; the periodic
    scan reads the indexed `next_due_at`, so its cost follows the work due."""

    ticket = models.OneToOneField("tickets.Ticket", on_delete=models.CASCADE,
                                  related_name="+", verbose_name=_("ticket"))
    waiting_since = models.DateTimeField(verbose_name=_("waiting since"))
    step = models.PositiveSmallIntegerField(
        default=0, help_text=_("Reminders already sent in this wait."), verbose_name=_("step"))
    next_due_at = models.DateTimeField(null=True, blank=True, db_index=True,
                                       verbose_name=_("next due at"))
    auto_resolved_at = models.DateTimeField(null=True, blank=True,
                                            verbose_name=_("auto resolved at"))

    class Meta:
        verbose_name = _("waiting ticket")
        verbose_name_plural = _("waiting tickets")

    def __str__(self) -> str:
        return gettext("#%(ticket)s waiting since %(since)s") % {
            "ticket": self.ticket_id, "since": f"{self.waiting_since:%Y-%m-%d %H:%M}"}

"""Customer privacy: export and erasure requests, retention policies and legal holds."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class PrivacyRequest(models.Model):
    """One export (GDPR Art. 15/20) or erasure (Art. 17) of one person."""

    class Kind(models.TextChoices):
        EXPORT = "export", "Export"
        ERASURE = "erasure", "Erasure"

    class State(models.TextChoices):
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting a second admin"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        READY = "ready", "Ready to download"
        DOWNLOADED = "downloaded", "Downloaded"
        EXPIRED = "expired", "Expired"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    state = models.CharField(max_length=20, choices=State.choices, db_index=True)
    # Kept after erasure: the person is then "Erased user #N".
    subject = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                related_name="+")
    subject_label = models.CharField(max_length=40, help_text="user #N")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                     on_delete=models.SET_NULL, related_name="+")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(max_length=200, blank=True)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done.")
    # Relative to MEDIA_ROOT; never served directly (the signed link streams it once).
    file = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    downloaded_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("handle_privacy_requests",
                        "Can export and erase customers' personal data")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.subject_label}"


class RetentionPolicy(models.Model):
    """How long raw e-mail, attachments and closed tickets' text are kept (days; empty: the
    global setting, 0: forever). One row per organization; the row without one is global."""

    organization = models.OneToOneField("helpdesk.Organization", null=True, blank=True,
                                        on_delete=models.CASCADE,
                                        related_name="retention_policy")
    raw_email_days = models.PositiveIntegerField(null=True, blank=True)
    attachment_days = models.PositiveIntegerField(null=True, blank=True)
    closed_ticket_days = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "retention policies"
        constraints = [models.UniqueConstraint(
            fields=["organization"], condition=models.Q(organization__isnull=True),
            name="one_global_retention_policy")]

    def __str__(self) -> str:
        return f"Retention for {self.organization or 'everyone'}"


class LegalHold(models.Model):
    """Nothing of this organization or ticket is purged while the hold is in place."""

    organization = models.ForeignKey("helpdesk.Organization", null=True, blank=True,
                                     on_delete=models.CASCADE, related_name="legal_holds")
    ticket = models.ForeignKey("tickets.Ticket", null=True, blank=True,
                               on_delete=models.CASCADE, related_name="legal_holds")
    reason = models.CharField(max_length=200)
    placed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")
    placed_at = models.DateTimeField(default=timezone.now)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(
            condition=models.Q(organization__isnull=False) | models.Q(ticket__isnull=False),
            name="legal_hold_has_target")]

    def __str__(self) -> str:
        return f"Legal hold on {self.organization or self.ticket}: {self.reason}"


class RetentionRun(models.Model):
    """What one retention pass did (or, as a dry run, would have done)."""

    started_at = models.DateTimeField(default=timezone.now)
    dry_run = models.BooleanField(default=False)
    raw_emails = models.PositiveIntegerField(default=0)
    attachments = models.PositiveIntegerField(default=0)
    tickets = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"Retention {'dry run' if self.dry_run else 'run'} at {self.started_at:%Y-%m-%d}"

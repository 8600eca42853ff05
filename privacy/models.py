"""Customer privacy: export and erasure requests, retention policies and legal holds."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class PrivacyRequest(models.Model):
    """One export (GDPR Art. 15/20) or erasure (Art. 17) of one person."""

    class Kind(models.TextChoices):
        EXPORT = "export", _("Export")
        ERASURE = "erasure", _("Erasure")

    class State(models.TextChoices):
        AWAITING_APPROVAL = "awaiting_approval", _("Awaiting a second admin")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        READY = "ready", _("Ready to download")
        DOWNLOADED = "downloaded", _("Downloaded")
        EXPIRED = "expired", _("Expired")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    kind = models.CharField(max_length=10, choices=Kind.choices, verbose_name=_("kind"))
    state = models.CharField(max_length=20, choices=State.choices, db_index=True,
                             verbose_name=_("state"))
    # Kept after erasure: the person is then "Erased user #N".
    subject = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                related_name="+", verbose_name=_("subject"))
    subject_label = models.CharField(max_length=40, help_text=_("user #N"),
                                     verbose_name=_("subject label"))
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                     on_delete=models.SET_NULL, related_name="+",
                                     verbose_name=_("requested by"))
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+",
                                    verbose_name=_("approved by"))
    reason = models.CharField(max_length=200, blank=True, verbose_name=_("reason"))
    progress = models.PositiveSmallIntegerField(default=0, help_text=_("Percent done."),
                                                verbose_name=_("progress"))
    # Relative to MEDIA_ROOT; never served directly (the signed link streams it once).
    file = models.CharField(max_length=300, blank=True, verbose_name=_("file"))
    created_at = models.DateTimeField(default=timezone.now, db_index=True,
                                      verbose_name=_("created at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    downloaded_at = models.DateTimeField(null=True, blank=True, verbose_name=_("downloaded at"))
    error = models.TextField(blank=True, verbose_name=_("error"))

    class Meta:
        verbose_name = _("privacy request")
        verbose_name_plural = _("privacy requests")
        ordering = ["-created_at", "-id"]
        permissions = [("handle_privacy_requests",
                        "Can export and erase customers' personal data")]

    def __str__(self) -> str:
        return gettext("%(kind)s of %(subject)s") % {"kind": self.get_kind_display(),
                                                   "subject": self.subject_label}


class RetentionPolicy(models.Model):
    """How long raw e-mail, attachments and closed tickets' text are kept (days; empty: the
    global setting, 0: forever). One row per organization; the row without one is global."""

    organization = models.OneToOneField("helpdesk.Organization", null=True, blank=True,
                                        on_delete=models.CASCADE,
                                        related_name="retention_policy",
                                        verbose_name=_("organization"))
    raw_email_days = models.PositiveIntegerField(null=True, blank=True,
                                                 verbose_name=_("raw email days"))
    attachment_days = models.PositiveIntegerField(null=True, blank=True,
                                                  verbose_name=_("attachment days"))
    closed_ticket_days = models.PositiveIntegerField(null=True, blank=True,
                                                     verbose_name=_("closed ticket days"))

    class Meta:
        verbose_name = _("retention policy")
        verbose_name_plural = _("retention policies")
        constraints = [models.UniqueConstraint(
            fields=["organization"], condition=models.Q(organization__isnull=True),
            name="one_global_retention_policy")]

    def __str__(self) -> str:
        if self.organization_id is None:
            return gettext("Retention for everyone")
        return gettext("Retention for %(organization)s") % {"organization": self.organization}


class LegalHold(models.Model):
    """Nothing of this organization or ticket is purged while the hold is in place."""

    organization = models.ForeignKey("helpdesk.Organization", null=True, blank=True,
                                     on_delete=models.CASCADE, related_name="legal_holds",
                                     verbose_name=_("organization"))
    ticket = models.ForeignKey("tickets.Ticket", null=True, blank=True,
                               on_delete=models.CASCADE, related_name="legal_holds",
                               verbose_name=_("ticket"))
    reason = models.CharField(max_length=200, verbose_name=_("reason"))
    placed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+",
                                  verbose_name=_("placed by"))
    placed_at = models.DateTimeField(default=timezone.now, verbose_name=_("placed at"))
    released_at = models.DateTimeField(null=True, blank=True, verbose_name=_("released at"))

    class Meta:
        verbose_name = _("legal hold")
        verbose_name_plural = _("legal holds")
        constraints = [models.CheckConstraint(
            condition=models.Q(organization__isnull=False) | models.Q(ticket__isnull=False),
            name="legal_hold_has_target")]

    def __str__(self) -> str:
        return gettext("Legal hold on %(target)s: %(reason)s") % {
            "target": self.organization or self.ticket, "reason": self.reason}


class RetentionRun(models.Model):
    """What one retention pass did (or, as a dry run, would have done)."""

    started_at = models.DateTimeField(default=timezone.now, verbose_name=_("started at"))
    dry_run = models.BooleanField(default=False, verbose_name=_("dry run"))
    raw_emails = models.PositiveIntegerField(default=0, verbose_name=_("raw emails"))
    attachments = models.PositiveIntegerField(default=0, verbose_name=_("attachments"))
    tickets = models.PositiveIntegerField(default=0, verbose_name=_("tickets"))

    class Meta:
        verbose_name = _("retention run")
        verbose_name_plural = _("retention runs")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        values = {"date": f"{self.started_at:%Y-%m-%d}"}
        if self.dry_run:
            return gettext("Retention dry run at %(date)s") % values
        return gettext("Retention run at %(date)s") % values

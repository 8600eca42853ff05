"""Incidents: severity configuration, incidents and their war room, linked tickets,
public updates with exactly-once delivery, post-incident reviews and action items."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.text import format_lazy
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from helpdesk.models import AppendOnlyModel, staff_only

from .severity import Impact, UsersAffected

USER = settings.AUTH_USER_MODEL


class Channel(models.TextChoices):
    STATUS_PAGE = "status_page", _("Status page")
    TICKET_UPDATES = "ticket_updates", _("Ticket updates")
    EMAIL = "email", _("Proactive e-mail")
    EXEC_BRIDGE = "exec_bridge", _("Executive bridge")
    INTERNAL_CHAT = "internal_chat", _("Internal chat")


class Severity(models.Model):
    """Per-severity policy, edited in the admin; seeded by a data migration."""

    level = models.PositiveSmallIntegerField(verbose_name=_("level"), unique=True,
                                             help_text=_("1 = SEV1 (most severe)."))
    name = models.CharField(verbose_name=_("name"), max_length=40)
    definition = models.TextField(verbose_name=_("definition"))
    examples = models.TextField(verbose_name=_("examples"), blank=True)
    response_minutes = models.PositiveIntegerField(
        verbose_name=_("response minutes"), help_text=_("Response SLA in minutes."),
    )
    update_every_minutes = models.PositiveIntegerField(
        verbose_name=_("update every minutes"), null=True, blank=True,
        help_text=_("Public update cadence; empty = only at resolution."),
    )
    channels = models.JSONField(verbose_name=_("channels"), default=list, blank=True,
                                help_text=format_lazy(_("Any of: {channels}."),
                                                     channels=", ".join(Channel.values)))
    review_required = models.BooleanField(verbose_name=_("review required"), default=False,
                                          help_text=_("A post-incident review must be written."))

    class Meta:
        verbose_name = _("severity")
        ordering = ["level"]
        verbose_name_plural = _("severities")

    def __str__(self) -> str:
        return f"SEV{self.level} {self.name}"

    @property
    def label(self) -> str:
        return f"SEV{self.level}"


class EscalationStep(models.Model):
    """One step of a severity's escalation path, measured from the declaration."""

    class Target(models.TextChoices):
        ONCALL = "oncall", _("On-call of a rotation")
        USER = "user", _("A named user")
        ROLE = "role", _("Everyone with a role")

    severity = models.ForeignKey(Severity, verbose_name=_("severity"), on_delete=models.CASCADE,
                                 related_name="steps")
    after_minutes = models.PositiveIntegerField(verbose_name=_("after minutes"))
    label = models.CharField(verbose_name=_("label"), max_length=80,
                             help_text=_("Who this is, e.g. 'VP Engineering'."))
    target = models.CharField(verbose_name=_("target"), max_length=10, choices=Target.choices)
    rotation = models.ForeignKey(
        "workforce.Rotation", verbose_name=_("rotation"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
        help_text=_("On-call target; empty = the first rotation by name."),
    )
    user = models.ForeignKey(USER, verbose_name=_("user"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+",
                             limit_choices_to=staff_only)
    role = models.CharField(verbose_name=_("role"), max_length=40, blank=True,
                            help_text=_("Role (group) name, e.g. 'manager'."))
    channels = models.JSONField(verbose_name=_("channels"), default=list, blank=True)

    class Meta:
        verbose_name = _("escalation step")
        verbose_name_plural = _("escalation steps")
        ordering = ["severity", "after_minutes", "pk"]

    def __str__(self) -> str:
        return gettext("%(severity)s +%(minutes)s min: %(label)s") % {
            "severity": self.severity.label, "minutes": self.after_minutes, "label": self.label}


class Status(models.TextChoices):
    INVESTIGATING = "investigating", _("Investigating")
    IDENTIFIED = "identified", _("Identified")
    MONITORING = "monitoring", _("Monitoring")
    RESOLVED = "resolved", _("Resolved")


# The admin's labels are the stored words, translated; a context tells "all" and "major"
# from the same words elsewhere.
USERS_AFFECTED_CHOICES = [
    (UsersAffected.ONE.value, pgettext_lazy("users affected", "one")),
    (UsersAffected.MULTIPLE.value, pgettext_lazy("users affected", "multiple")),
    (UsersAffected.ALL.value, pgettext_lazy("users affected", "all")),
]
IMPACT_CHOICES = [
    (Impact.COMPLETE.value, pgettext_lazy("incident impact", "complete")),
    (Impact.MAJOR.value, pgettext_lazy("incident impact", "major")),
    (Impact.MINOR.value, pgettext_lazy("incident impact", "minor")),
]


class Incident(models.Model):
    title = models.CharField(verbose_name=_("title"), max_length=200,
                             help_text=_("Shown on the public status page."))
    description = models.TextField(verbose_name=_("description"), blank=True,
                                   help_text=_("Internal description."))
    keywords = models.CharField(
        verbose_name=_("keywords"), max_length=255, blank=True,
        help_text=_("Comma-separated; new tickets mentioning one are suggested for linking."))
    users_affected = models.CharField(verbose_name=_("users affected"), max_length=10,
                                      choices=USERS_AFFECTED_CHOICES)
    impact = models.CharField(verbose_name=_("impact"), max_length=10,
                              choices=IMPACT_CHOICES)
    suggested_level = models.PositiveSmallIntegerField(verbose_name=_("suggested level"))
    severity = models.ForeignKey(Severity, verbose_name=_("severity"), on_delete=models.PROTECT,
                                 related_name="incidents")
    severity_reason = models.CharField(verbose_name=_("severity reason"), max_length=255,
                                       blank=True,
                                       help_text=_("Why the suggested severity was overridden."))
    status = models.CharField(verbose_name=_("status"), max_length=20, choices=Status.choices,
                              default=Status.INVESTIGATING)
    is_public = models.BooleanField(verbose_name=_("is public"), default=True,
                                    help_text=_("Listed on the status page."))
    declared_by = models.ForeignKey(USER, verbose_name=_("declared by"), null=True,
                                    on_delete=models.SET_NULL, related_name="+")
    declared_at = models.DateTimeField(verbose_name=_("declared at"))
    resolved_at = models.DateTimeField(verbose_name=_("resolved at"), null=True, blank=True)
    resolve_tickets_to = models.CharField(
        verbose_name=_("resolve tickets to"), max_length=30, blank=True,
        help_text=_("Status linked tickets move to on resolution."),
    )
    # "Next time something is due" columns, indexed and scanned by the beat jobs;
    # all cleared when the incident resolves, so a resolved incident costs nothing.
    next_update_due_at = models.DateTimeField(verbose_name=_("next update due at"), null=True,
                                              blank=True)
    next_escalation_at = models.DateTimeField(verbose_name=_("next escalation at"), null=True,
                                              blank=True)
    next_review_reminder_at = models.DateTimeField(
        verbose_name=_("next review reminder at"), null=True, blank=True,
    )

    class Meta:
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        ordering = ["-declared_at", "-pk"]
        permissions = [
            ("declare_incident", "Can declare incidents and work in war rooms"),
            ("manage_incident", "Can assign roles, publish updates and resolve incidents"),
        ]
        indexes = [
            models.Index(fields=["next_update_due_at"], name="incident_update_due",
                         condition=Q(next_update_due_at__isnull=False)),
            models.Index(fields=["next_escalation_at"], name="incident_escalation_due",
                         condition=Q(next_escalation_at__isnull=False)),
            models.Index(fields=["next_review_reminder_at"], name="incident_review_due",
                         condition=Q(next_review_reminder_at__isnull=False)),
            models.Index(fields=["status", "-declared_at"], name="incident_status_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("incidents:room", args=[self.pk])

    @property
    def reference(self) -> str:
        return f"INC-{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status != Status.RESOLVED


class RoleKind(models.TextChoices):
    COMMANDER = "commander", _("Incident commander")
    TECH_LEAD = "tech_lead", _("Technical lead")
    COMMS_LEAD = "comms_lead", _("Communications lead")
    SCRIBE = "scribe", _("Scribe")
    SME = "sme", _("Subject-matter expert")


SINGLE_ROLES = [RoleKind.COMMANDER, RoleKind.TECH_LEAD, RoleKind.COMMS_LEAD, RoleKind.SCRIBE]


class IncidentRole(models.Model):
    incident = models.ForeignKey(Incident, verbose_name=_("incident"), on_delete=models.CASCADE,
                                 related_name="roles")
    role = models.CharField(verbose_name=_("role"), max_length=20, choices=RoleKind.choices)
    user = models.ForeignKey(USER, verbose_name=_("user"), on_delete=models.CASCADE,
                             related_name="incident_roles", limit_choices_to=staff_only)
    assigned_at = models.DateTimeField(verbose_name=_("assigned at"))

    class Meta:
        verbose_name = _("incident role")
        verbose_name_plural = _("incident roles")
        ordering = ["incident", "role", "pk"]
        constraints = [
            # One commander, tech lead, comms lead and scribe; any number of experts.
            models.UniqueConstraint(fields=["incident", "role"], name="incident_single_role",
                                    condition=~Q(role="sme")),
            models.UniqueConstraint(fields=["incident", "role", "user"],
                                    name="incident_role_user"),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.user}"


class EntryKind(models.TextChoices):
    NOTE = "note", _("Note")
    DECISION = "decision", _("Decision")
    ACTION = "action", _("Action")
    STATUS = "status", _("Status change")
    ESCALATION = "escalation", _("Escalation")
    REMINDER = "reminder", _("Reminder")
    UPDATE = "update", _("Public update")
    LINK = "link", _("Linked tickets")
    ROLE = "role", _("Role")
    SEVERITY = "severity", _("Severity")


class TimelineEntry(AppendOnlyModel):
    """The war-room timeline: append-only, timestamped by the server."""

    incident = models.ForeignKey(Incident, verbose_name=_("incident"), on_delete=models.CASCADE,
                                 related_name="timeline")
    kind = models.CharField(verbose_name=_("kind"), max_length=20, choices=EntryKind.choices)
    body = models.TextField(verbose_name=_("body"))
    author = models.ForeignKey(USER, verbose_name=_("author"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        verbose_name = _("timeline entry")
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["incident", "created_at"], name="incident_timeline")]
        verbose_name_plural = _("timeline entries")

    def __str__(self) -> str:
        return f"{self.created_at:%H:%M} {self.get_kind_display()}: {self.body[:40]}"


class IncidentTicket(models.Model):
    """A ticket linked to an incident, and what the resolution cascade did to it."""

    class Outcome(models.TextChoices):
        PENDING = "", _("Pending")
        MOVED = "moved", _("Moved")
        SKIPPED = "skipped", _("Skipped")

    incident = models.ForeignKey(Incident, verbose_name=_("incident"), on_delete=models.CASCADE,
                                 related_name="links")
    ticket = models.ForeignKey("tickets.Ticket", verbose_name=_("ticket"), on_delete=models.CASCADE,
                               related_name="incident_links")
    linked_by = models.ForeignKey(USER, verbose_name=_("linked by"), null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")
    linked_at = models.DateTimeField(verbose_name=_("linked at"))
    # Snapshot taken when the incident resolves (the SLA app clears the ticket's due
    # time once its clocks stop): was the ticket's SLA breached during the incident?
    sla_breached = models.BooleanField(verbose_name=_("sla breached"), null=True, blank=True)
    cascade_outcome = models.CharField(verbose_name=_("cascade outcome"), max_length=10,
                                       choices=Outcome.choices, blank=True)
    cascade_note = models.CharField(verbose_name=_("cascade note"), max_length=255, blank=True)
    cascaded_at = models.DateTimeField(verbose_name=_("cascaded at"), null=True, blank=True)
    # Set once the move's after-commit handlers (SLA clocks, survey) have run; a worker
    # killed in between leaves it empty, and the next cascade run replays them.
    cascade_dispatched_at = models.DateTimeField(
        verbose_name=_("cascade dispatched at"), null=True, blank=True,
    )

    class Meta:
        verbose_name = _("incident ticket")
        verbose_name_plural = _("incident tickets")
        ordering = ["incident", "ticket_id"]
        constraints = [models.UniqueConstraint(fields=["incident", "ticket"],
                                               name="incident_ticket_unique")]
        indexes = [models.Index(fields=["ticket"], name="incident_link_ticket")]

    def __str__(self) -> str:
        return f"{self.incident.reference} ↔ #{self.ticket_id}"


class LinkSuggestion(models.Model):
    """A new ticket whose text matched an open incident's keywords."""

    incident = models.ForeignKey(Incident, verbose_name=_("incident"), on_delete=models.CASCADE,
                                 related_name="suggestions")
    ticket = models.ForeignKey("tickets.Ticket", verbose_name=_("ticket"), on_delete=models.CASCADE,
                               related_name="+")
    matched = models.CharField(verbose_name=_("matched"), max_length=255)
    created_at = models.DateTimeField(verbose_name=_("created at"))
    dismissed = models.BooleanField(verbose_name=_("dismissed"), default=False)

    class Meta:
        verbose_name = _("link suggestion")
        verbose_name_plural = _("link suggestions")
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["incident", "ticket"],
                                               name="incident_suggestion_unique")]

    def __str__(self) -> str:
        return f"{self.incident_id} ? #{self.ticket_id} ({self.matched})"


class UpdateKind(models.TextChoices):
    INITIAL = "initial", _("Initial notification")
    UPDATE = "update", _("Update")
    RESOLUTION = "resolution", _("Resolution")


class PublicUpdate(models.Model):
    """A customer-facing update: on the status page and sent once to every linked ticket."""

    incident = models.ForeignKey(Incident, verbose_name=_("incident"), on_delete=models.CASCADE,
                                 related_name="updates")
    kind = models.CharField(verbose_name=_("kind"), max_length=12, choices=UpdateKind.choices)
    status = models.CharField(verbose_name=_("status"), max_length=20, choices=Status.choices)
    body = models.TextField(verbose_name=_("body"), help_text=_("Markdown."))
    created_by = models.ForeignKey(USER, verbose_name=_("created by"), null=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(verbose_name=_("created at"))
    fanout_completed_at = models.DateTimeField(verbose_name=_("fanout completed at"), null=True,
                                               blank=True)

    class Meta:
        verbose_name = _("public update")
        verbose_name_plural = _("public updates")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["incident", "-created_at"], name="incident_update_recent"),
                   models.Index(fields=["-created_at"], name="update_recent")]

    def __str__(self) -> str:
        return (f"{self.incident.reference} {self.get_kind_display()} "
                f"{self.created_at:%Y-%m-%d %H:%M}")


class UpdateDelivery(models.Model):
    """One update delivered (or skipped) on one ticket: the unique row makes it once."""

    update = models.ForeignKey(PublicUpdate, verbose_name=_("update"), on_delete=models.CASCADE,
                               related_name="deliveries")
    ticket = models.ForeignKey("tickets.Ticket", verbose_name=_("ticket"), on_delete=models.CASCADE,
                               related_name="+")
    # Indexed: mailgate asks, for every agent reply, whether it is an update's delivery.
    message_id = models.BigIntegerField(verbose_name=_("message id"), null=True, blank=True,
                                        db_index=True)
    skipped = models.CharField(verbose_name=_("skipped"), max_length=255, blank=True,
                               help_text=_("Why it was not sent."))
    created_at = models.DateTimeField(verbose_name=_("created at"))
    # Set once the reply's after-commit handlers (its e-mail, SLA clocks) have run; a
    # worker killed in between leaves it empty, and the next fan-out run replays them.
    dispatched_at = models.DateTimeField(verbose_name=_("dispatched at"), null=True, blank=True)

    class Meta:
        verbose_name = _("update delivery")
        constraints = [models.UniqueConstraint(fields=["update", "ticket"],
                                               name="update_delivery_unique")]
        verbose_name_plural = _("update deliveries")

    def __str__(self) -> str:
        return gettext("update %(update)s → #%(ticket)s") % {"update": self.update_id,
                                                            "ticket": self.ticket_id}


class Fire(models.Model):
    """A reminder or escalation step that fired: unique per (incident, key), so once."""

    incident = models.ForeignKey(Incident, verbose_name=_("incident"), on_delete=models.CASCADE,
                                 related_name="fires")
    key = models.CharField(verbose_name=_("key"), max_length=80)
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        verbose_name = _("fire")
        verbose_name_plural = _("fires")
        constraints = [models.UniqueConstraint(fields=["incident", "key"],
                                               name="incident_fire_unique")]

    def __str__(self) -> str:
        return f"{self.incident_id}:{self.key}"


class Review(models.Model):
    """The post-incident review (blameless)."""

    incident = models.OneToOneField(Incident, verbose_name=_("incident"), on_delete=models.CASCADE,
                                    related_name="review")
    summary = models.TextField(verbose_name=_("summary"), blank=True)
    timeline = models.TextField(verbose_name=_("timeline"), blank=True,
                                help_text=_("Pre-filled from the war room."))
    impact = models.TextField(verbose_name=_("impact"), blank=True,
                              help_text=_("Pre-filled with the incident's figures."))
    root_cause = models.TextField(verbose_name=_("root cause"), blank=True)
    went_well = models.TextField(_("what went well"), blank=True)
    to_improve = models.TextField(_("what to improve"), blank=True)
    author = models.ForeignKey(USER, verbose_name=_("author"), null=True, on_delete=models.SET_NULL,
                               related_name="+")
    created_at = models.DateTimeField(verbose_name=_("created at"))
    updated_at = models.DateTimeField(verbose_name=_("updated at"))
    completed_at = models.DateTimeField(verbose_name=_("completed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("review")
        verbose_name_plural = _("reviews")

    def __str__(self) -> str:
        return gettext("Review of %(incident)s") % {"incident": self.incident.reference}


class ActionItem(models.Model):
    class State(models.TextChoices):
        OPEN = "open", _("Open")
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Done")

    review = models.ForeignKey(Review, verbose_name=_("review"), on_delete=models.CASCADE,
                               related_name="actions")
    title = models.CharField(verbose_name=_("title"), max_length=255)
    owner = models.ForeignKey(USER, verbose_name=_("owner"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="incident_actions",
                              limit_choices_to=staff_only)
    due_date = models.DateField(verbose_name=_("due date"), null=True, blank=True)
    state = models.CharField(verbose_name=_("state"), max_length=12, choices=State.choices,
                             default=State.OPEN)
    created_at = models.DateTimeField(verbose_name=_("created at"))
    completed_at = models.DateTimeField(verbose_name=_("completed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("action item")
        verbose_name_plural = _("action items")
        ordering = ["due_date", "pk"]
        indexes = [models.Index(fields=["state", "due_date"], name="incident_action_open")]

    def __str__(self) -> str:
        return self.title

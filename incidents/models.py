"""Incidents: severity configuration, incidents and their war room, linked tickets,
public updates with exactly-once delivery, post-incident reviews and action items."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
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

    level = models.PositiveSmallIntegerField(unique=True, help_text="1 = SEV1 (most severe).")
    name = models.CharField(max_length=40)
    definition = models.TextField()
    examples = models.TextField(blank=True)
    response_minutes = models.PositiveIntegerField(help_text="Response SLA in minutes.")
    update_every_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Public update cadence; empty = only at resolution.")
    channels = models.JSONField(default=list, blank=True,
                                help_text=f"Any of: {', '.join(Channel.values)}.")
    review_required = models.BooleanField(default=False,
                                          help_text="A post-incident review must be written.")

    class Meta:
        ordering = ["level"]
        verbose_name_plural = "severities"

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

    severity = models.ForeignKey(Severity, on_delete=models.CASCADE, related_name="steps")
    after_minutes = models.PositiveIntegerField()
    label = models.CharField(max_length=80, help_text="Who this is, e.g. 'VP Engineering'.")
    target = models.CharField(max_length=10, choices=Target.choices)
    rotation = models.ForeignKey(
        "workforce.Rotation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="On-call target; empty = the first rotation by name.")
    user = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", limit_choices_to=staff_only)
    role = models.CharField(max_length=40, blank=True,
                            help_text="Role (group) name, e.g. 'manager'.")
    channels = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["severity", "after_minutes", "pk"]

    def __str__(self) -> str:
        return f"{self.severity.label} +{self.after_minutes} min: {self.label}"


class Status(models.TextChoices):
    INVESTIGATING = "investigating", _("Investigating")
    IDENTIFIED = "identified", _("Identified")
    MONITORING = "monitoring", _("Monitoring")
    RESOLVED = "resolved", _("Resolved")


class Incident(models.Model):
    title = models.CharField(max_length=200, help_text="Shown on the public status page.")
    description = models.TextField(blank=True, help_text="Internal description.")
    keywords = models.CharField(
        max_length=255, blank=True,
        help_text="Comma-separated; new tickets mentioning one are suggested for linking.")
    users_affected = models.CharField(max_length=10,
                                      choices=[(u.value, u.value) for u in UsersAffected])
    impact = models.CharField(max_length=10, choices=[(i.value, i.value) for i in Impact])
    suggested_level = models.PositiveSmallIntegerField()
    severity = models.ForeignKey(Severity, on_delete=models.PROTECT, related_name="incidents")
    severity_reason = models.CharField(max_length=255, blank=True,
                                       help_text="Why the suggested severity was overridden.")
    status = models.CharField(max_length=20, choices=Status.choices,
                              default=Status.INVESTIGATING)
    is_public = models.BooleanField(default=True, help_text="Listed on the status page.")
    declared_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL,
                                    related_name="+")
    declared_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolve_tickets_to = models.CharField(
        max_length=30, blank=True, help_text="Status linked tickets move to on resolution.")
    # "Next time something is due" columns, indexed and scanned by the beat jobs;
    # all cleared when the incident resolves, so a resolved incident costs nothing.
    next_update_due_at = models.DateTimeField(null=True, blank=True)
    next_escalation_at = models.DateTimeField(null=True, blank=True)
    next_review_reminder_at = models.DateTimeField(null=True, blank=True)

    class Meta:
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
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=20, choices=RoleKind.choices)
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="incident_roles",
                             limit_choices_to=staff_only)
    assigned_at = models.DateTimeField()

    class Meta:
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

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=20, choices=EntryKind.choices)
    body = models.TextField()
    author = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["incident", "created_at"], name="incident_timeline")]
        verbose_name_plural = "timeline entries"

    def __str__(self) -> str:
        return f"{self.created_at:%H:%M} {self.kind}: {self.body[:40]}"


class IncidentTicket(models.Model):
    """A ticket linked to an incident, and what the resolution cascade did to it."""

    class Outcome(models.TextChoices):
        PENDING = "", _("Pending")
        MOVED = "moved", _("Moved")
        SKIPPED = "skipped", _("Skipped")

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="links")
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE,
                               related_name="incident_links")
    linked_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    linked_at = models.DateTimeField()
    # Snapshot taken when the incident resolves (the SLA app clears the ticket's due
    # time once its clocks stop): was the ticket's SLA breached during the incident?
    sla_breached = models.BooleanField(null=True, blank=True)
    cascade_outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True)
    cascade_note = models.CharField(max_length=255, blank=True)
    cascaded_at = models.DateTimeField(null=True, blank=True)
    # Set once the move's after-commit handlers (SLA clocks, survey) have run; a worker
    # killed in between leaves it empty, and the next cascade run replays them.
    cascade_dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["incident", "ticket_id"]
        constraints = [models.UniqueConstraint(fields=["incident", "ticket"],
                                               name="incident_ticket_unique")]
        indexes = [models.Index(fields=["ticket"], name="incident_link_ticket")]

    def __str__(self) -> str:
        return f"{self.incident.reference} ↔ #{self.ticket_id}"


class LinkSuggestion(models.Model):
    """A new ticket whose text matched an open incident's keywords."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="suggestions")
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    matched = models.CharField(max_length=255)
    created_at = models.DateTimeField()
    dismissed = models.BooleanField(default=False)

    class Meta:
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

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="updates")
    kind = models.CharField(max_length=12, choices=UpdateKind.choices)
    status = models.CharField(max_length=20, choices=Status.choices)
    body = models.TextField(help_text="Markdown.")
    created_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField()
    fanout_completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["incident", "-created_at"], name="incident_update_recent"),
                   models.Index(fields=["-created_at"], name="update_recent")]

    def __str__(self) -> str:
        return f"{self.incident.reference} {self.kind} {self.created_at:%Y-%m-%d %H:%M}"


class UpdateDelivery(models.Model):
    """One update delivered (or skipped) on one ticket: the unique row makes it once."""

    update = models.ForeignKey(PublicUpdate, on_delete=models.CASCADE, related_name="deliveries")
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    # Indexed: mailgate asks, for every agent reply, whether it is an update's delivery.
    message_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    skipped = models.CharField(max_length=255, blank=True, help_text="Why it was not sent.")
    created_at = models.DateTimeField()
    # Set once the reply's after-commit handlers (its e-mail, SLA clocks) have run; a
    # worker killed in between leaves it empty, and the next fan-out run replays them.
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["update", "ticket"],
                                               name="update_delivery_unique")]
        verbose_name_plural = "update deliveries"

    def __str__(self) -> str:
        return f"update {self.update_id} → #{self.ticket_id}"


class Fire(models.Model):
    """A reminder or escalation step that fired: unique per (incident, key), so once."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="fires")
    key = models.CharField(max_length=80)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["incident", "key"],
                                               name="incident_fire_unique")]

    def __str__(self) -> str:
        return f"{self.incident_id}:{self.key}"


class Review(models.Model):
    """The post-incident review (blameless)."""

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="review")
    summary = models.TextField(blank=True)
    timeline = models.TextField(blank=True, help_text="Pre-filled from the war room.")
    impact = models.TextField(blank=True, help_text="Pre-filled with the incident's figures.")
    root_cause = models.TextField(blank=True)
    went_well = models.TextField("what went well", blank=True)
    to_improve = models.TextField("what to improve", blank=True)
    author = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Review of {self.incident.reference}"


class ActionItem(models.Model):
    class State(models.TextChoices):
        OPEN = "open", _("Open")
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Done")

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="actions")
    title = models.CharField(max_length=255)
    owner = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="incident_actions", limit_choices_to=staff_only)
    due_date = models.DateField(null=True, blank=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.OPEN)
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_date", "pk"]
        indexes = [models.Index(fields=["state", "due_date"], name="incident_action_open")]

    def __str__(self) -> str:
        return self.title

"""Technical casework: investigations with evidence, playbooks, engineering links,
product feedback, at-risk alerts and the weekly voice-of-customer report."""
from __future__ import annotations

from django.conf import settings
from django.core.validators import FileExtensionValidator
from django.db import models
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from helpdesk.models import AppendOnlyModel

# Evidence uploads are internal artefacts (logs, screenshots, configs): capped in size.
EVIDENCE_MAX_BYTES = 10 * 1024 * 1024
EVIDENCE_EXTENSIONS = ["txt", "log", "json", "yaml", "yml", "csv", "har", "png", "jpg",
                       "jpeg", "gif", "pdf", "zip", "gz", "xml", "sql", "md"]


class Decision(models.TextChoices):
    INVESTIGATING = "investigating", _("Still investigating")
    RESOLVE = "resolve", _("Resolve at this tier")
    ESCALATE = "escalate", _("Escalate")


class Investigation(models.Model):
    """The structured investigation of one technical ticket (at most one per ticket)."""

    ticket = models.OneToOneField("tickets.Ticket", on_delete=models.CASCADE,
                                  related_name="investigation")
    goal = models.TextField("what the customer is trying to do", blank=True)
    actual = models.TextField("what is happening instead", blank=True)
    environment = models.CharField(max_length=255, blank=True)
    version = models.CharField(max_length=100, blank=True)
    hypothesis = models.TextField("current hypothesis", blank=True)
    next_step = models.TextField(blank=True)
    decision = models.CharField(max_length=20, choices=Decision.choices,
                                default=Decision.INVESTIGATING)
    # Time to first evidence = first_evidence_at - assigned_at, both fixed once known;
    # the seconds are stored so the dashboard averages them in SQL on every database.
    assigned_at = models.DateTimeField(null=True, blank=True,
                                       help_text="First assignment of the ticket.")
    first_evidence_at = models.DateTimeField(null=True, blank=True,
                                             help_text="First verified evidence item.")
    first_evidence_seconds = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    SNAPSHOT_FIELDS = ("goal", "actual", "environment", "version", "hypothesis",
                       "next_step", "decision")

    def __str__(self) -> str:
        return f"Investigation of #{self.ticket_id}"

    def snapshot(self) -> dict[str, str]:
        return {f: getattr(self, f) for f in self.SNAPSHOT_FIELDS}


class InvestigationRevision(AppendOnlyModel):
    """Append-only history: the investigation as it was after each save."""

    investigation = models.ForeignKey(Investigation, on_delete=models.CASCADE,
                                      related_name="revisions")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    data = models.JSONField()
    changed = models.JSONField(default=list, help_text="Names of the fields this save changed.")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["investigation", "-created_at"],
                                name="cw_revision_inv_time")]


class EvidenceKind(models.TextChoices):
    LOG = "log", _("Log")
    SCREENSHOT = "screenshot", _("Screenshot")
    REPRODUCTION = "reproduction", _("Reproduction")
    CONFIG = "config", _("Configuration")
    QUERY = "query", _("Query result")


def evidence_path(instance: Evidence, filename: str) -> str:
    return f"casework/{instance.investigation.ticket_id}/{filename}"


class Evidence(models.Model):
    investigation = models.ForeignKey(Investigation, on_delete=models.CASCADE,
                                      related_name="evidence")
    kind = models.CharField(max_length=20, choices=EvidenceKind.choices)
    summary = models.TextField(help_text="What this shows.")
    link = models.URLField(max_length=500, blank=True)
    attachment = models.ForeignKey("tickets.Attachment", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+",
                                   help_text="A file already on the ticket.")
    file = models.FileField(upload_to=evidence_path, max_length=500, blank=True,
                            validators=[FileExtensionValidator(EVIDENCE_EXTENSIONS)])
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                 related_name="+")
    created_at = models.DateTimeField()
    verified = models.BooleanField(default=False)
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "evidence"
        indexes = [models.Index(fields=["investigation", "created_at"],
                                name="cw_evidence_inv_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.summary[:60]}"


class Playbook(models.Model):
    """A reusable investigation path, suggested on tickets of its categories / product areas."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    categories = models.ManyToManyField("tickets.Category", blank=True, related_name="+")
    product_areas = models.ManyToManyField("tickets.ProductArea", blank=True, related_name="+")
    is_active = models.BooleanField(
        default=True, help_text="Only active playbooks are suggested. Playbooks drafted from "
        "a ticket start inactive until a lead reviews them.")
    source_ticket = models.ForeignKey("tickets.Ticket", null=True, blank=True,
                                      on_delete=models.SET_NULL, related_name="+",
                                      help_text="The resolved ticket it was drafted from.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class PlaybookStep(models.Model):
    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveSmallIntegerField(default=1)
    title = models.CharField(max_length=200)
    collect = models.TextField("what to collect", blank=True)
    decide = models.TextField("how to decide", blank=True)

    class Meta:
        ordering = ["playbook", "order", "id"]

    def __str__(self) -> str:
        return f"{self.order}. {self.title}"


class PlaybookRun(models.Model):
    """A ticket that follows a playbook: what "workflow reuse" counts."""

    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE,
                               related_name="playbook_runs")
    playbook = models.ForeignKey(Playbook, on_delete=models.PROTECT, related_name="runs")
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                   on_delete=models.SET_NULL, related_name="+")
    started_at = models.DateTimeField()

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [models.UniqueConstraint(fields=["ticket", "playbook"],
                                               name="cw_one_run_per_ticket_playbook")]
        indexes = [models.Index(fields=["playbook", "started_at"], name="cw_run_playbook")]

    def __str__(self) -> str:
        return f"{self.playbook} on #{self.ticket_id}"


class StepCheck(models.Model):
    run = models.ForeignKey(PlaybookRun, on_delete=models.CASCADE, related_name="checks")
    step = models.ForeignKey(PlaybookStep, on_delete=models.CASCADE, related_name="+")
    checked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                   on_delete=models.SET_NULL, related_name="+")
    checked_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "step"],
                                               name="cw_one_check_per_step")]

    def __str__(self) -> str:
        return f"Step {self.step_id} of run {self.run_id}"


class EngineeringLink(models.Model):
    """An item in the engineering bug tracker that this ticket waits on.

    A ticket with a link counts as needing engineering (see casework.selectors).
    `status` is copied from the tracker, by hand on the ticket page or through the API.
    """

    class Tracker(models.TextChoices):
        JIRA = "jira", _("Jira")
        GITHUB = "github", _("GitHub")
        GITLAB = "gitlab", _("GitLab")
        LINEAR = "linear", _("Linear")
        OTHER = "other", _("Other")

    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE,
                               related_name="engineering_links")
    tracker = models.CharField(max_length=20, choices=Tracker.choices, default=Tracker.JIRA)
    key = models.CharField(max_length=100, help_text="e.g. ENG-1234")
    url = models.URLField(max_length=500)
    status = models.CharField(max_length=100, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["ticket", "tracker", "key"],
                                               name="cw_one_link_per_key")]
        indexes = [models.Index(fields=["tracker", "key"], name="cw_link_key")]

    def __str__(self) -> str:
        return f"{self.key} ({self.status or 'no status'})"


class FeedbackKind(models.TextChoices):
    FEATURE = "feature", _("Feature request")
    BUG = "bug", _("Bug")
    UX = "ux", _("UX friction")
    DOCS = "docs", _("Documentation gap")
    AT_RISK = "at_risk", _("At-risk signal")
    PRAISE = "praise", _("Praise")
    COMPETITIVE = "competitive", _("Competitive mention")


def feedback_key(kind: str, title: str) -> str:
    """The aggregation key: the same kind and title, however written, are one item."""
    return f"{kind}:{slugify(title)[:200]}"


class FeedbackItem(models.Model):
    kind = models.CharField(max_length=20, choices=FeedbackKind.choices)
    title = models.CharField(max_length=200)
    key = models.CharField(max_length=230, unique=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["kind", "title"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.title}"


class FeedbackMention(models.Model):
    """One ticket's voice on a feedback item (one mention per item and ticket)."""

    item = models.ForeignKey(FeedbackItem, on_delete=models.CASCADE, related_name="mentions")
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE,
                               related_name="feedback_mentions")
    organization = models.ForeignKey("helpdesk.Organization", null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    quote = models.CharField("customer voice", max_length=500)
    use_case = models.CharField(max_length=500, blank=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                 on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["item", "ticket"],
                                               name="cw_one_mention_per_ticket")]
        indexes = [models.Index(fields=["item", "-created_at"], name="cw_mention_item"),
                   models.Index(fields=["created_at"], name="cw_mention_created")]

    def __str__(self) -> str:
        return f"{self.item} on #{self.ticket_id}"


class Signal(models.TextChoices):
    EXECUTIVE = "executive_complaint", _("Executive complaint")
    CHURN = "churn_mention", _("Churn mention")
    CSAT = "negative_csat", _("Negative CSAT trend")
    INCIDENT = "major_incident", _("Major incident impact")
    CHAMPION = "champion_departure", _("Champion departure")


class AtRiskAlert(models.Model):
    """One alert per organisation, signal and period: the unique row is the de-duplication."""

    organization = models.ForeignKey("helpdesk.Organization", on_delete=models.CASCADE,
                                     related_name="+")
    signal = models.CharField(max_length=30, choices=Signal.choices)
    period = models.CharField(max_length=10, help_text="ISO week, e.g. 2026-W48.")
    ticket = models.ForeignKey("tickets.Ticket", null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    detail = models.TextField(blank=True)
    notified = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+",
                                 help_text="The CSM told (empty: the organization has none).")
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["organization", "signal", "period"],
                                               name="cw_one_alert_per_period")]

    def __str__(self) -> str:
        return f"{self.get_signal_display()} at {self.organization} ({self.period})"


class VocReport(models.Model):
    """The weekly voice-of-customer report of one ISO week (Monday 00:00 UTC onwards)."""

    week_start = models.DateField(unique=True)
    generated_at = models.DateTimeField()
    data = models.JSONField()

    class Meta:
        ordering = ["-week_start"]

    def __str__(self) -> str:
        return f"Voice of customer, week of {self.week_start}"


class CaseworkHour(models.Model):
    """Hourly rollup of the casework dashboard, per hour the tickets were opened, team and
    category (0 = none): the counts behind every figure, so any period and filter add up
    to what `casework.selectors.dashboard` computes from the tickets (tests hold them
    equal). Written only by `casework.rollup` (a sync every five minutes folding in the
    hours of changed tickets and of casework's own writes, a nightly rebuild,
    `manage.py rebuild_casework_rollup`).

    `team_id` is the ticket's team for the ticket and tier counts, the escalating team for
    the escalation counts, as the dashboard attributes them.
    """

    hour = models.DateTimeField(help_text="Start of the UTC hour the tickets were opened.")
    team_id = models.PositiveIntegerField(default=0)
    category_id = models.PositiveIntegerField(default=0)
    # Technical tickets opened in this hour.
    technical = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)
    resolved_without_engineering = models.PositiveIntegerField(default=0)
    evidence_tickets = models.PositiveIntegerField(default=0)
    ttfe_seconds = models.BigIntegerField(default=0)  # sum over evidence_tickets
    followed = models.PositiveIntegerField(default=0)
    recurring = models.PositiveIntegerField(default=0)
    recurring_followed = models.PositiveIntegerField(default=0)
    # Escalations of the tickets opened in this hour, by escalating team.
    escalations = models.PositiveIntegerField(default=0)
    returned = models.PositiveIntegerField(default=0)
    # Every ticket opened in this hour: handled by a tier / escalated out of it.
    handled_l1 = models.PositiveIntegerField(default=0)
    handled_l2 = models.PositiveIntegerField(default=0)
    handled_l2_enterprise = models.PositiveIntegerField(default=0)
    handled_l3 = models.PositiveIntegerField(default=0)
    escalated_l1 = models.PositiveIntegerField(default=0)
    escalated_l2 = models.PositiveIntegerField(default=0)
    escalated_l2_enterprise = models.PositiveIntegerField(default=0)
    escalated_l3 = models.PositiveIntegerField(default=0)
    refreshed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hour", "team_id", "category_id"],
                                               name="cw_hour_key")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H:00} team {self.team_id} category {self.category_id}"


class CaseworkRollupState(models.Model):
    """Singleton: the hours `CaseworkHour` holds, up to when changes are folded in, and
    whether a change to playbooks (which makes tickets recurring) asks for a rebuild."""

    covered_from = models.DateTimeField(null=True, blank=True)
    covered_to = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    rebuild_requested = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"Casework rollup {self.covered_from} – {self.covered_to}"


class CaseworkStaleHour(models.Model):
    """The opening hour of a ticket whose casework changed (evidence verified, a playbook
    started, an engineering link): recomputed, and removed, by the next sync."""

    hour = models.DateTimeField(unique=True)

    def __str__(self) -> str:
        return f"stale {self.hour:%Y-%m-%d %H:00}"

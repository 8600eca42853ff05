"""Technical casework: investigations with evidence, playbooks, engineering links,
product feedback, at-risk alerts and the weekly voice-of-customer report."""
from __future__ import annotations

from django.conf import settings
from django.core.validators import FileExtensionValidator
from django.db import models
from django.utils.text import slugify
from django.utils.translation import gettext, pgettext_lazy
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

    ticket = models.OneToOneField("tickets.Ticket", verbose_name=_("ticket"),
                                  on_delete=models.CASCADE, related_name="investigation")
    goal = models.TextField(_("what the customer is trying to do"), blank=True)
    actual = models.TextField(_("what is happening instead"), blank=True)
    environment = models.CharField(verbose_name=_("environment"), max_length=255, blank=True)
    version = models.CharField(verbose_name=_("version"), max_length=100, blank=True)
    hypothesis = models.TextField(_("current hypothesis"), blank=True)
    next_step = models.TextField(verbose_name=_("next step"), blank=True)
    decision = models.CharField(verbose_name=_("decision"), max_length=20, choices=Decision.choices,
                                default=Decision.INVESTIGATING)
    # Time to first evidence = first_evidence_at - assigned_at, both fixed once known;
    # the seconds are stored so the dashboard averages them in SQL on every database.
    assigned_at = models.DateTimeField(verbose_name=_("assigned at"), null=True, blank=True,
                                       help_text=_("First assignment of the ticket."))
    first_evidence_at = models.DateTimeField(verbose_name=_("first evidence at"), null=True,
                                             blank=True,
                                             help_text=_("First verified evidence item."))
    first_evidence_seconds = models.PositiveIntegerField(
        verbose_name=_("first evidence seconds"), null=True, blank=True,
    )
    created_at = models.DateTimeField(verbose_name=_("created at"))
    updated_at = models.DateTimeField(verbose_name=_("updated at"))
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("updated by"),
                                   null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    SNAPSHOT_FIELDS = ("goal", "actual", "environment", "version", "hypothesis",
                       "next_step", "decision")

    class Meta:
        verbose_name = _("investigation")
        verbose_name_plural = _("investigations")

    def __str__(self) -> str:
        return gettext("Investigation of #%(ticket)s") % {"ticket": self.ticket_id}

    def snapshot(self) -> dict[str, str]:
        return {f: getattr(self, f) for f in self.SNAPSHOT_FIELDS}


class InvestigationRevision(AppendOnlyModel):
    """Append-only history: the investigation as it was after each save."""

    investigation = models.ForeignKey(Investigation, verbose_name=_("investigation"),
                                      on_delete=models.CASCADE, related_name="revisions")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("author"), null=True,
                               blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(verbose_name=_("created at"))
    data = models.JSONField(verbose_name=_("data"))
    changed = models.JSONField(verbose_name=_("changed"), default=list,
                               help_text=_("Names of the fields this save changed."))

    class Meta:
        verbose_name = _("investigation revision")
        verbose_name_plural = _("investigation revisions")
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
    investigation = models.ForeignKey(Investigation, verbose_name=_("investigation"),
                                      on_delete=models.CASCADE, related_name="evidence")
    kind = models.CharField(verbose_name=_("kind"), max_length=20, choices=EvidenceKind.choices)
    summary = models.TextField(verbose_name=_("summary"), help_text=_("What this shows."))
    link = models.URLField(verbose_name=_("link"), max_length=500, blank=True)
    attachment = models.ForeignKey("tickets.Attachment", verbose_name=_("attachment"), null=True,
                                   blank=True, on_delete=models.SET_NULL, related_name="+",
                                   help_text=_("A file already on the ticket."))
    file = models.FileField(verbose_name=_("file"), upload_to=evidence_path, max_length=500,
                            blank=True, validators=[FileExtensionValidator(EVIDENCE_EXTENSIONS)])
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("added by"), null=True,
                                 on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(verbose_name=_("created at"))
    verified = models.BooleanField(verbose_name=_("verified"), default=False)
    verified_at = models.DateTimeField(verbose_name=_("verified at"), null=True, blank=True)
    verified_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("verified by"),
                                    null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    class Meta:
        verbose_name = _("evidence")
        ordering = ["created_at", "id"]
        # The same English word, not the same German one.
        verbose_name_plural = pgettext_lazy("plural", "evidence")
        indexes = [models.Index(fields=["investigation", "created_at"],
                                name="cw_evidence_inv_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.summary[:60]}"


class Playbook(models.Model):
    """A reusable investigation path, suggested on tickets of its categories / product areas."""

    name = models.CharField(verbose_name=_("name"), max_length=200)
    description = models.TextField(verbose_name=_("description"), blank=True)
    categories = models.ManyToManyField("tickets.Category", verbose_name=_("categories"),
                                        blank=True, related_name="+")
    product_areas = models.ManyToManyField("tickets.ProductArea", verbose_name=_("product areas"),
                                           blank=True, related_name="+")
    is_active = models.BooleanField(
        verbose_name=_("is active"), default=True,
        help_text=_("Only active playbooks are suggested. Playbooks drafted from "
    "a ticket start inactive until a lead reviews them."),
    )
    source_ticket = models.ForeignKey("tickets.Ticket", verbose_name=_("source ticket"), null=True,
                                      blank=True, on_delete=models.SET_NULL, related_name="+",
                                      help_text=_("The resolved ticket it was drafted from."))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"),
                                   null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        verbose_name = _("playbook")
        verbose_name_plural = _("playbooks")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class PlaybookStep(models.Model):
    playbook = models.ForeignKey(Playbook, verbose_name=_("playbook"), on_delete=models.CASCADE,
                                 related_name="steps")
    order = models.PositiveSmallIntegerField(verbose_name=_("order"), default=1)
    title = models.CharField(verbose_name=_("title"), max_length=200)
    collect = models.TextField(_("what to collect"), blank=True)
    decide = models.TextField(_("how to decide"), blank=True)

    class Meta:
        verbose_name = _("playbook step")
        verbose_name_plural = _("playbook steps")
        ordering = ["playbook", "order", "id"]

    def __str__(self) -> str:
        return f"{self.order}. {self.title}"


class PlaybookRun(models.Model):
    """A ticket that follows a playbook: what "workflow reuse" counts."""

    ticket = models.ForeignKey("tickets.Ticket", verbose_name=_("ticket"), on_delete=models.CASCADE,
                               related_name="playbook_runs")
    playbook = models.ForeignKey(Playbook, verbose_name=_("playbook"), on_delete=models.PROTECT,
                                 related_name="runs")
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("started by"),
                                   null=True, on_delete=models.SET_NULL, related_name="+")
    started_at = models.DateTimeField(verbose_name=_("started at"))

    class Meta:
        verbose_name = _("playbook run")
        verbose_name_plural = _("playbook runs")
        ordering = ["started_at", "id"]
        constraints = [models.UniqueConstraint(fields=["ticket", "playbook"],
                                               name="cw_one_run_per_ticket_playbook")]
        indexes = [models.Index(fields=["playbook", "started_at"], name="cw_run_playbook")]

    def __str__(self) -> str:
        return gettext("%(playbook)s on #%(ticket)s") % {"playbook": self.playbook,
                                                        "ticket": self.ticket_id}


class StepCheck(models.Model):
    run = models.ForeignKey(PlaybookRun, verbose_name=_("run"), on_delete=models.CASCADE,
                            related_name="checks")
    step = models.ForeignKey(PlaybookStep, verbose_name=_("step"), on_delete=models.CASCADE,
                             related_name="+")
    checked_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("checked by"),
                                   null=True, on_delete=models.SET_NULL, related_name="+")
    checked_at = models.DateTimeField(verbose_name=_("checked at"))

    class Meta:
        verbose_name = _("step check")
        verbose_name_plural = _("step checks")
        constraints = [models.UniqueConstraint(fields=["run", "step"],
                                               name="cw_one_check_per_step")]

    def __str__(self) -> str:
        return gettext("Step %(step)s of run %(run)s") % {"step": self.step_id, "run": self.run_id}


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

    ticket = models.ForeignKey("tickets.Ticket", verbose_name=_("ticket"), on_delete=models.CASCADE,
                               related_name="engineering_links")
    tracker = models.CharField(verbose_name=_("tracker"), max_length=20, choices=Tracker.choices,
                               default=Tracker.JIRA)
    key = models.CharField(verbose_name=_("key"), max_length=100, help_text=_("e.g. ENG-1234"))
    url = models.URLField(verbose_name=_("url"), max_length=500)
    status = models.CharField(verbose_name=_("status"), max_length=100, blank=True)
    synced_at = models.DateTimeField(verbose_name=_("synced at"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"),
                                   null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        verbose_name = _("engineering link")
        verbose_name_plural = _("engineering links")
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["ticket", "tracker", "key"],
                                               name="cw_one_link_per_key")]
        indexes = [models.Index(fields=["tracker", "key"], name="cw_link_key")]

    def __str__(self) -> str:
        status = self.status or gettext("no status")
        return f"{self.key} ({status})"


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
    kind = models.CharField(verbose_name=_("kind"), max_length=20, choices=FeedbackKind.choices)
    title = models.CharField(verbose_name=_("title"), max_length=200)
    key = models.CharField(verbose_name=_("key"), max_length=230, unique=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), db_index=True)

    class Meta:
        verbose_name = _("feedback item")
        verbose_name_plural = _("feedback items")
        ordering = ["kind", "title"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.title}"


class FeedbackMention(models.Model):
    """One ticket's voice on a feedback item (one mention per item and ticket)."""

    item = models.ForeignKey(FeedbackItem, verbose_name=_("item"), on_delete=models.CASCADE,
                             related_name="mentions")
    ticket = models.ForeignKey("tickets.Ticket", verbose_name=_("ticket"), on_delete=models.CASCADE,
                               related_name="feedback_mentions")
    organization = models.ForeignKey("helpdesk.Organization", verbose_name=_("organization"),
                                     null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    quote = models.CharField(_("customer voice"), max_length=500)
    use_case = models.CharField(verbose_name=_("use case"), max_length=500, blank=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("added by"), null=True,
                                 on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        verbose_name = _("feedback mention")
        verbose_name_plural = _("feedback mentions")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["item", "ticket"],
                                               name="cw_one_mention_per_ticket")]
        indexes = [models.Index(fields=["item", "-created_at"], name="cw_mention_item"),
                   models.Index(fields=["created_at"], name="cw_mention_created")]

    def __str__(self) -> str:
        return gettext("%(item)s on #%(ticket)s") % {"item": self.item, "ticket": self.ticket_id}


class Signal(models.TextChoices):
    EXECUTIVE = "executive_complaint", _("Executive complaint")
    CHURN = "churn_mention", _("Churn mention")
    CSAT = "negative_csat", _("Negative CSAT trend")
    INCIDENT = "major_incident", _("Major incident impact")
    CHAMPION = "champion_departure", _("Champion departure")


class AtRiskAlert(models.Model):
    """One alert per organisation, signal and period: the unique row is the de-duplication."""

    organization = models.ForeignKey("helpdesk.Organization", verbose_name=_("organization"),
                                     on_delete=models.CASCADE, related_name="+")
    signal = models.CharField(verbose_name=_("signal"), max_length=30, choices=Signal.choices)
    period = models.CharField(verbose_name=_("period"), max_length=10,
                              help_text=_("ISO week, e.g. 2026-W48."))
    ticket = models.ForeignKey("tickets.Ticket", verbose_name=_("ticket"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    detail = models.TextField(verbose_name=_("detail"), blank=True)
    notified = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("notified"), null=True,
                                 blank=True, on_delete=models.SET_NULL, related_name="+",
                                 help_text=_("The CSM told (empty: the organization has none)."))
    created_at = models.DateTimeField(verbose_name=_("created at"), db_index=True)

    class Meta:
        verbose_name = _("at risk alert")
        verbose_name_plural = _("at risk alerts")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["organization", "signal", "period"],
                                               name="cw_one_alert_per_period")]

    def __str__(self) -> str:
        return gettext("%(signal)s at %(organization)s (%(period)s)") % {
            "signal": self.get_signal_display(), "organization": self.organization,
            "period": self.period}


class VocReport(models.Model):
    """The weekly voice-of-customer report of one ISO week (Monday 00:00 UTC onwards)."""

    week_start = models.DateField(verbose_name=_("week start"), unique=True)
    generated_at = models.DateTimeField(verbose_name=_("generated at"))
    data = models.JSONField(verbose_name=_("data"))

    class Meta:
        verbose_name = _("voc report")
        verbose_name_plural = _("voc reports")
        ordering = ["-week_start"]

    def __str__(self) -> str:
        return gettext("Voice of customer, week of %(date)s") % {"date": self.week_start}


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

    hour = models.DateTimeField(verbose_name=_("hour"),
                                help_text=_("Start of the UTC hour the tickets were opened."))
    team_id = models.PositiveIntegerField(verbose_name=_("team id"), default=0)
    category_id = models.PositiveIntegerField(verbose_name=_("category id"), default=0)
    # Technical tickets opened in this hour.
    technical = models.PositiveIntegerField(verbose_name=_("technical"), default=0)
    resolved = models.PositiveIntegerField(verbose_name=_("resolved"), default=0)
    resolved_without_engineering = models.PositiveIntegerField(
        verbose_name=_("resolved without engineering"), default=0,
    )
    evidence_tickets = models.PositiveIntegerField(verbose_name=_("evidence tickets"), default=0)
    # Summed over evidence_tickets.
    ttfe_seconds = models.BigIntegerField(verbose_name=_("ttfe seconds"), default=0)
    followed = models.PositiveIntegerField(verbose_name=_("followed"), default=0)
    recurring = models.PositiveIntegerField(verbose_name=_("recurring"), default=0)
    recurring_followed = models.PositiveIntegerField(
        verbose_name=_("recurring followed"), default=0,
    )
    # Escalations of the tickets opened in this hour, by escalating team.
    escalations = models.PositiveIntegerField(verbose_name=_("escalations"), default=0)
    returned = models.PositiveIntegerField(verbose_name=_("returned"), default=0)
    # Every ticket opened in this hour: handled by a tier / escalated out of it.
    handled_l1 = models.PositiveIntegerField(verbose_name=_("handled l1"), default=0)
    handled_l2 = models.PositiveIntegerField(verbose_name=_("handled l2"), default=0)
    handled_l2_enterprise = models.PositiveIntegerField(
        verbose_name=_("handled l2 enterprise"), default=0,
    )
    handled_l3 = models.PositiveIntegerField(verbose_name=_("handled l3"), default=0)
    escalated_l1 = models.PositiveIntegerField(verbose_name=_("escalated l1"), default=0)
    escalated_l2 = models.PositiveIntegerField(verbose_name=_("escalated l2"), default=0)
    escalated_l2_enterprise = models.PositiveIntegerField(
        verbose_name=_("escalated l2 enterprise"), default=0,
    )
    escalated_l3 = models.PositiveIntegerField(verbose_name=_("escalated l3"), default=0)
    refreshed_at = models.DateTimeField(verbose_name=_("refreshed at"))

    class Meta:
        verbose_name = _("casework hour")
        verbose_name_plural = _("casework hours")
        constraints = [models.UniqueConstraint(fields=["hour", "team_id", "category_id"],
                                               name="cw_hour_key")]

    def __str__(self) -> str:
        return gettext("%(hour)s team %(team)s category %(category)s") % {
            "hour": f"{self.hour:%Y-%m-%d %H:00}", "team": self.team_id,
            "category": self.category_id}


class CaseworkRollupState(models.Model):
    """Singleton: the hours `CaseworkHour` holds, up to when changes are folded in, and
    whether a change to playbooks (which makes tickets recurring) asks for a rebuild."""

    covered_from = models.DateTimeField(verbose_name=_("covered from"), null=True, blank=True)
    covered_to = models.DateTimeField(verbose_name=_("covered to"), null=True, blank=True)
    synced_at = models.DateTimeField(verbose_name=_("synced at"), null=True, blank=True)
    rebuild_requested = models.BooleanField(verbose_name=_("rebuild requested"), default=False)

    class Meta:
        verbose_name = _("casework rollup state")
        verbose_name_plural = _("casework rollup states")

    def __str__(self) -> str:
        return gettext("Casework rollup %(start)s – %(end)s") % {"start": self.covered_from,
                                                                 "end": self.covered_to}


class CaseworkStaleHour(models.Model):
    """The opening hour of a ticket whose casework changed (evidence verified, a playbook
    started, an engineering link): recomputed, and removed, by the next sync."""

    hour = models.DateTimeField(verbose_name=_("hour"), unique=True)

    class Meta:
        verbose_name = _("casework stale hour")
        verbose_name_plural = _("casework stale hours")

    def __str__(self) -> str:
        return gettext("stale %(when)s") % {"when": f"{self.hour:%Y-%m-%d %H:00}"}

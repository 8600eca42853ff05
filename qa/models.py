"""QA: versioned scorecards, reviews of tickets, disputes, coaching and calibration."""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from helpdesk.models import AppendOnlyModel, staff_only

USER = settings.AUTH_USER_MODEL


# --- scorecards -------------------------------------------------------------------------

class Scorecard(models.Model):
    """One version of a scorecard. Reviews point at the version they used; editing a
    version that has been used creates the next version (qa.services.edit_scorecard)."""

    name = models.CharField(verbose_name=_("name"), max_length=100)
    version = models.PositiveIntegerField(verbose_name=_("version"), default=1)
    is_current = models.BooleanField(
        verbose_name=_("is current"), default=True,
        help_text=_("New reviews and samples use the current version of a name."),
    )
    description = models.TextField(verbose_name=_("description"), blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    previous = models.ForeignKey("self", verbose_name=_("previous"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+",
                                 help_text=_("The version this one replaced."))

    class Meta:
        verbose_name = _("scorecard")
        verbose_name_plural = _("scorecards")
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="qa_scorecard_version"),
            models.UniqueConstraint(fields=["name"], condition=Q(is_current=True),
                                    name="qa_one_current_scorecard"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def is_used(self) -> bool:
        """Reviewed or calibrated with: its content is history and must not change."""
        return self.reviews.exists() or self.calibration_sessions.exists()


class Dimension(models.Model):
    scorecard = models.ForeignKey(Scorecard, verbose_name=_("scorecard"), on_delete=models.CASCADE,
                                  related_name="dimensions")
    name = models.CharField(verbose_name=_("name"), max_length=100)
    weight = models.PositiveSmallIntegerField(verbose_name=_("weight"),
                                              help_text=_("Points this dimension is worth."))
    description = models.TextField(verbose_name=_("description"), blank=True)
    order = models.PositiveSmallIntegerField(verbose_name=_("order"), default=0)

    class Meta:
        verbose_name = _("dimension")
        verbose_name_plural = _("dimensions")
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["scorecard", "name"], name="qa_dimension_name"),
            models.CheckConstraint(condition=Q(weight__gt=0), name="qa_dimension_weight"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.weight})"


class RubricLevel(models.Model):
    """A level of a dimension's rubric, e.g. 25 points "Good: correct, minor details missing"."""

    scorecard = models.ForeignKey(Scorecard, verbose_name=_("scorecard"), on_delete=models.CASCADE,
                                  related_name="levels")
    dimension = models.ForeignKey(Dimension, verbose_name=_("dimension"), on_delete=models.CASCADE,
                                  related_name="levels")
    points = models.PositiveSmallIntegerField(verbose_name=_("points"))
    label = models.CharField(verbose_name=_("label"), max_length=60)
    description = models.CharField(verbose_name=_("description"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("rubric level")
        verbose_name_plural = _("rubric levels")
        ordering = ["dimension", "-points"]
        constraints = [
            models.UniqueConstraint(fields=["dimension", "points"], name="qa_level_points"),
        ]

    def __str__(self) -> str:
        return f"{self.points} {self.label}"

    def clean(self) -> None:
        if self.dimension_id and self.scorecard_id and \
                self.dimension.scorecard_id != self.scorecard_id:
            raise ValidationError({"dimension": _("Pick a dimension of this scorecard.")})
        if self.dimension_id and self.points is not None and self.points > self.dimension.weight:
            raise ValidationError({"points": _("At most the weight (%(weight)s).")
                                             % {"weight": self.dimension.weight}})


class AutoFailItem(models.Model):
    """A critical error that sets the review's score to 0 (e.g. data exposure)."""

    scorecard = models.ForeignKey(Scorecard, verbose_name=_("scorecard"), on_delete=models.CASCADE,
                                  related_name="auto_fail_items")
    name = models.CharField(verbose_name=_("name"), max_length=120)
    description = models.CharField(verbose_name=_("description"), max_length=300, blank=True)
    order = models.PositiveSmallIntegerField(verbose_name=_("order"), default=0)

    class Meta:
        verbose_name = _("auto fail item")
        verbose_name_plural = _("auto fail items")
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name


class ChecklistItem(models.Model):
    """An optional yes/no check (greeting personalised, next steps given...); not scored."""

    scorecard = models.ForeignKey(Scorecard, verbose_name=_("scorecard"), on_delete=models.CASCADE,
                                  related_name="checklist_items")
    name = models.CharField(verbose_name=_("name"), max_length=120)
    order = models.PositiveSmallIntegerField(verbose_name=_("order"), default=0)

    class Meta:
        verbose_name = _("checklist item")
        verbose_name_plural = _("checklist items")
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name


# --- flags and sampling -------------------------------------------------------------------

class QAFlag(models.Model):
    """A ticket marked for review: by a lead, or by the SLA-breach sweep (which reads the
    ticket's sla_level, written by the sla app, so that resolved tickets keep the mark)."""

    class Reason(models.TextChoices):
        LEAD = "lead", _("Flagged by a lead")
        SLA_BREACHED = "sla_breached", _("SLA breached")

    ticket = models.ForeignKey("tickets.Ticket", verbose_name=_("ticket"), on_delete=models.CASCADE,
                               related_name="qa_flags")
    reason = models.CharField(verbose_name=_("reason"), max_length=20, choices=Reason.choices)
    note = models.CharField(verbose_name=_("note"), max_length=300, blank=True)
    flagged_by = models.ForeignKey(USER, verbose_name=_("flagged by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        verbose_name = _("qa flag")
        verbose_name_plural = _("qa flags")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["ticket", "reason"], name="qa_flag_once"),
        ]
        indexes = [models.Index(fields=["created_at"], name="qa_flag_created")]

    def __str__(self) -> str:
        return f"{self.get_reason_display()}: #{self.ticket_id}"


class SampleRun(models.Model):
    """One weekly sampling of one scorecard: claimed first, so a second run does nothing."""

    scorecard = models.ForeignKey(Scorecard, verbose_name=_("scorecard"), on_delete=models.PROTECT,
                                  related_name="+")
    week_start = models.DateField(verbose_name=_("week start"),
                                  help_text=_("Monday of the ISO week sampled."))
    started_at = models.DateTimeField(verbose_name=_("started at"))
    reviews_created = models.PositiveIntegerField(verbose_name=_("reviews created"), default=0)

    class Meta:
        verbose_name = _("sample run")
        verbose_name_plural = _("sample runs")
        ordering = ["-week_start"]
        constraints = [
            models.UniqueConstraint(fields=["scorecard", "week_start"], name="qa_sample_week"),
        ]

    def __str__(self) -> str:
        return gettext("Sample of week %(week)s (%(scorecard)s)") % {"week": self.week_start,
                                                                    "scorecard": self.scorecard}


# --- reviews ------------------------------------------------------------------------------

class ReviewStatus(models.TextChoices):
    ASSIGNED = "assigned", _("To review")
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    DISPUTED = "disputed", _("Disputed")
    RESOLVED = "resolved", _("Dispute resolved")


PENDING_STATUSES = [ReviewStatus.ASSIGNED, ReviewStatus.DRAFT]
FINISHED_STATUSES = [ReviewStatus.SUBMITTED, ReviewStatus.ACKNOWLEDGED,
                     ReviewStatus.DISPUTED, ReviewStatus.RESOLVED]


class Review(models.Model):
    """One agent's handling of one ticket, scored on one scorecard version."""

    class Source(models.TextChoices):
        SAMPLE = "sample", _("Weekly random sample")
        FLAGGED = "flagged", _("Flagged ticket")
        MANUAL = "manual", _("Picked by a reviewer")

    scorecard = models.ForeignKey(Scorecard, verbose_name=_("scorecard"), on_delete=models.PROTECT,
                                  related_name="reviews")
    ticket = models.ForeignKey("tickets.Ticket", verbose_name=_("ticket"), on_delete=models.CASCADE,
                               related_name="qa_reviews")
    agent = models.ForeignKey(USER, verbose_name=_("agent"), on_delete=models.PROTECT,
                              related_name="qa_reviews_received")
    reviewer = models.ForeignKey(USER, verbose_name=_("reviewer"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="qa_reviews_given")
    # The ticket's team when the review was created: dashboards filter by it.
    team = models.ForeignKey("helpdesk.Team", verbose_name=_("team"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(verbose_name=_("status"), max_length=12, choices=ReviewStatus.choices,
                              default=ReviewStatus.ASSIGNED)
    source = models.CharField(verbose_name=_("source"), max_length=10, choices=Source.choices,
                              default=Source.MANUAL)
    flag_reasons = models.CharField(verbose_name=_("flag reasons"), max_length=200, blank=True,
                                    help_text=_("Why a flagged ticket was picked."))
    week_start = models.DateField(verbose_name=_("week start"), null=True, blank=True,
                                  help_text=_("The ISO week of the sample it came from."))
    score = models.DecimalField(verbose_name=_("score"), max_digits=5, decimal_places=2, null=True,
                                blank=True, help_text=_("Computed from the levels; never typed."))
    auto_failed = models.BooleanField(verbose_name=_("auto failed"), default=False)
    auto_fail_items = models.ManyToManyField(AutoFailItem, verbose_name=_("auto fail items"),
                                             blank=True, related_name="+")
    checklist_items = models.ManyToManyField(ChecklistItem, verbose_name=_("checklist items"),
                                             blank=True, related_name="+",
                                             help_text=_("Checks that were met."))
    summary = models.TextField(verbose_name=_("summary"), blank=True,
                               help_text=_("Overall feedback (Markdown)."))
    is_ticket_of_week = models.BooleanField(verbose_name=_("is ticket of week"), default=False)
    created_at = models.DateTimeField(verbose_name=_("created at"))
    updated_at = models.DateTimeField(verbose_name=_("updated at"))
    submitted_at = models.DateTimeField(verbose_name=_("submitted at"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(verbose_name=_("acknowledged at"), null=True, blank=True)

    class Meta:
        verbose_name = _("review")
        verbose_name_plural = _("reviews")
        ordering = ["-created_at", "-id"]
        permissions = [
            ("review_tickets", "Can score tickets on a QA scorecard"),
            ("view_all_reviews", "Can read every QA review and the QA dashboard"),
            ("run_calibration", "Can run QA calibration sessions"),
            ("lead_qa", "Can resolve QA disputes, coach, and flag tickets for QA"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["scorecard", "ticket"], name="qa_review_once"),
            # Nobody reviews their own work (NULL reviewer = not assigned yet passes).
            models.CheckConstraint(condition=~Q(reviewer=F("agent")),
                                   name="qa_reviewer_not_agent"),
        ]
        indexes = [
            models.Index(fields=["reviewer", "status", "created_at"], name="qa_review_queue"),
            models.Index(fields=["agent", "-submitted_at"], name="qa_review_agent"),
            models.Index(fields=["status", "submitted_at"], name="qa_review_submitted"),
            models.Index(fields=["team", "submitted_at"], name="qa_review_team"),
        ]

    def __str__(self) -> str:
        return gettext("QA review of #%(ticket)s (%(agent)s)") % {"ticket": self.ticket_id,
                                                                 "agent": self.agent}

    def get_absolute_url(self) -> str:
        return reverse("qa:review", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES


class ReviewScore(models.Model):
    """The level picked for one dimension of a review, with the reviewer's comment."""

    review = models.ForeignKey(Review, verbose_name=_("review"), on_delete=models.CASCADE,
                               related_name="scores")
    dimension = models.ForeignKey(Dimension, verbose_name=_("dimension"), on_delete=models.PROTECT,
                                  related_name="+")
    level = models.ForeignKey(RubricLevel, verbose_name=_("level"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+")
    not_applicable = models.BooleanField(verbose_name=_("not applicable"), default=False)
    comment = models.TextField(verbose_name=_("comment"), blank=True)

    class Meta:
        verbose_name = _("review score")
        verbose_name_plural = _("review scores")
        ordering = ["dimension__order", "dimension_id"]
        constraints = [
            models.UniqueConstraint(fields=["review", "dimension"], name="qa_score_once"),
        ]

    def __str__(self) -> str:
        return f"{self.dimension.name}: {self.level or '—'}"


class ReviewEvent(AppendOnlyModel):
    """Append-only history of a review: submitted, acknowledged, disputed, resolved...

    A revision by a lead keeps the score and levels before and after in `data`.
    """

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        ASSIGNED = "assigned", _("Assigned")
        SUBMITTED = "submitted", _("Submitted")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        DISPUTED = "disputed", _("Disputed")
        KEPT = "kept", _("Dispute resolved: score kept")
        REVISED = "revised", _("Dispute resolved: score revised")
        TICKET_OF_WEEK = "ticket_of_week", _("Ticket of the week")

    review = models.ForeignKey(Review, verbose_name=_("review"), on_delete=models.CASCADE,
                               related_name="events")
    actor = models.ForeignKey(USER, verbose_name=_("actor"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(verbose_name=pgettext_lazy("point in time", "at"))
    kind = models.CharField(verbose_name=_("kind"), max_length=20, choices=Kind.choices)
    note = models.TextField(verbose_name=_("note"), blank=True)
    score_before = models.DecimalField(verbose_name=_("score before"), max_digits=5,
                                       decimal_places=2, null=True, blank=True)
    score_after = models.DecimalField(verbose_name=_("score after"), max_digits=5, decimal_places=2,
                                      null=True, blank=True)
    data = models.JSONField(verbose_name=_("data"), default=dict, blank=True)

    class Meta:
        verbose_name = _("review event")
        verbose_name_plural = _("review events")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["review", "at"], name="qa_review_event_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.review_id})"


class Dispute(models.Model):
    """An agent's objection to a review, and how a lead resolved it (once per review)."""

    class Outcome(models.TextChoices):
        KEPT = "kept", _("Score kept")
        REVISED = "revised", _("Score revised")

    review = models.OneToOneField(Review, verbose_name=_("review"), on_delete=models.CASCADE,
                                  related_name="dispute")
    raised_by = models.ForeignKey(USER, verbose_name=_("raised by"), on_delete=models.PROTECT,
                                  related_name="+")
    raised_at = models.DateTimeField(verbose_name=_("raised at"))
    reason = models.TextField(verbose_name=_("reason"))
    resolved_by = models.ForeignKey(USER, verbose_name=_("resolved by"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    resolved_at = models.DateTimeField(verbose_name=_("resolved at"), null=True, blank=True)
    outcome = models.CharField(verbose_name=_("outcome"), max_length=10, choices=Outcome.choices,
                               blank=True)
    resolution_note = models.TextField(verbose_name=_("resolution note"), blank=True)
    score_before = models.DecimalField(verbose_name=_("score before"), max_digits=5,
                                       decimal_places=2, null=True, blank=True)
    score_after = models.DecimalField(verbose_name=_("score after"), max_digits=5, decimal_places=2,
                                      null=True, blank=True)

    class Meta:
        verbose_name = _("dispute")
        verbose_name_plural = _("disputes")
        ordering = ["-raised_at"]
        indexes = [models.Index(fields=["raised_at"], name="qa_dispute_open",
                                condition=Q(resolved_at__isnull=True))]

    def __str__(self) -> str:
        return gettext("Dispute of %(review)s") % {"review": self.review}


# --- coaching -------------------------------------------------------------------------------

class CoachingSession(models.Model):
    """A 1:1 coaching record: strengths first, one development focus, goals, follow-up."""

    agent = models.ForeignKey(USER, verbose_name=_("agent"), on_delete=models.PROTECT,
                              related_name="qa_coaching", limit_choices_to=staff_only)
    coach = models.ForeignKey(USER, verbose_name=_("coach"), on_delete=models.PROTECT,
                              related_name="+", limit_choices_to=staff_only)
    held_on = models.DateField(verbose_name=_("held on"))
    reviews = models.ManyToManyField(Review, verbose_name=_("reviews"), blank=True,
                                     related_name="coaching_sessions")
    strengths = models.TextField(verbose_name=_("strengths"))
    development_focus = models.CharField(verbose_name=_("development focus"), max_length=200,
                                         help_text=_("One specific area for the coming weeks."))
    goals = models.TextField(verbose_name=_("goals"), blank=True)
    follow_up_on = models.DateField(verbose_name=_("follow up on"), null=True, blank=True)
    notes = models.TextField(verbose_name=_("notes"), blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        verbose_name = _("coaching session")
        verbose_name_plural = _("coaching sessions")
        ordering = ["-held_on", "-id"]
        indexes = [models.Index(fields=["agent", "-held_on"], name="qa_coaching_agent")]

    def __str__(self) -> str:
        return gettext("Coaching of %(agent)s on %(date)s") % {"agent": self.agent,
                                                              "date": self.held_on}


# --- calibration ------------------------------------------------------------------------------

class CalibrationSession(models.Model):
    """Reviewers score the same tickets blind; then the spread is discussed and agreed."""

    class Status(models.TextChoices):
        OPEN = "open", _("Scoring")
        CLOSED = "closed", _("Closed")

    title = models.CharField(verbose_name=_("title"), max_length=200)
    scorecard = models.ForeignKey(Scorecard, verbose_name=_("scorecard"), on_delete=models.PROTECT,
                                  related_name="calibration_sessions")
    facilitator = models.ForeignKey(USER, verbose_name=_("facilitator"), on_delete=models.PROTECT,
                                    related_name="+", limit_choices_to=staff_only)
    participants = models.ManyToManyField(USER, verbose_name=_("participants"),
                                          related_name="qa_calibrations",
                                          limit_choices_to=staff_only)
    status = models.CharField(verbose_name=_("status"), max_length=10, choices=Status.choices,
                              default=Status.OPEN)
    notes = models.TextField(verbose_name=_("notes"), blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"))
    closed_at = models.DateTimeField(verbose_name=_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("calibration session")
        verbose_name_plural = _("calibration sessions")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("qa:calibration", args=[self.pk])


class CalibrationItem(models.Model):
    """A ticket of a session, with the score the group agreed on."""

    session = models.ForeignKey(CalibrationSession, verbose_name=_("session"),
                                on_delete=models.CASCADE, related_name="items")
    ticket = models.ForeignKey("tickets.Ticket", verbose_name=_("ticket"), on_delete=models.CASCADE,
                               related_name="+")
    order = models.PositiveSmallIntegerField(verbose_name=_("order"), default=0)
    agreed_score = models.DecimalField(verbose_name=_("agreed score"), max_digits=5,
                                       decimal_places=2, null=True, blank=True)
    agreed_auto_failed = models.BooleanField(verbose_name=_("agreed auto failed"), default=False)
    agreed_levels = models.JSONField(verbose_name=_("agreed levels"), default=dict, blank=True,
                                     help_text=_("Dimension id → agreed points."))
    agreed_notes = models.TextField(verbose_name=_("agreed notes"), blank=True)
    agreed_at = models.DateTimeField(verbose_name=_("agreed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("calibration item")
        verbose_name_plural = _("calibration items")
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "ticket"], name="qa_calibration_ticket"),
        ]

    def __str__(self) -> str:
        return gettext("#%(ticket)s in %(session)s") % {"ticket": self.ticket_id,
                                                      "session": self.session}


class CalibrationScore(models.Model):
    """One reviewer's blind score of one calibration ticket."""

    item = models.ForeignKey(CalibrationItem, verbose_name=_("item"), on_delete=models.CASCADE,
                             related_name="scores")
    reviewer = models.ForeignKey(USER, verbose_name=_("reviewer"), on_delete=models.PROTECT,
                                 related_name="+")
    score = models.DecimalField(verbose_name=_("score"), max_digits=5, decimal_places=2, null=True,
                                blank=True)
    auto_failed = models.BooleanField(verbose_name=_("auto failed"), default=False)
    auto_fail_items = models.ManyToManyField(AutoFailItem, verbose_name=_("auto fail items"),
                                             blank=True, related_name="+")
    comment = models.TextField(verbose_name=_("comment"), blank=True)
    submitted_at = models.DateTimeField(verbose_name=_("submitted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("calibration score")
        verbose_name_plural = _("calibration scores")
        ordering = ["item", "reviewer_id"]
        constraints = [
            models.UniqueConstraint(fields=["item", "reviewer"], name="qa_calibration_once"),
        ]
        indexes = [models.Index(fields=["reviewer", "submitted_at"],
                                name="qa_calibration_reviewer")]

    def __str__(self) -> str:
        return gettext("%(reviewer)s on %(item)s") % {"reviewer": self.reviewer, "item": self.item}


class CalibrationDimensionScore(models.Model):
    score = models.ForeignKey(CalibrationScore, verbose_name=_("score"), on_delete=models.CASCADE,
                              related_name="dimension_scores")
    dimension = models.ForeignKey(Dimension, verbose_name=_("dimension"), on_delete=models.PROTECT,
                                  related_name="+")
    level = models.ForeignKey(RubricLevel, verbose_name=_("level"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+")
    not_applicable = models.BooleanField(verbose_name=_("not applicable"), default=False)

    class Meta:
        verbose_name = _("calibration dimension score")
        verbose_name_plural = _("calibration dimension scores")
        constraints = [
            models.UniqueConstraint(fields=["score", "dimension"],
                                    name="qa_calibration_dimension_once"),
        ]

    def __str__(self) -> str:
        level = self.level_id or gettext("N/A")
        return f"{self.dimension_id}: {level}"

"""SLA configuration (calendars, policies, targets, levels) and per-ticket clocks."""
from __future__ import annotations

from datetime import time, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext, gettext_lazy, ngettext
from django.utils.translation import gettext_lazy as _

from helpdesk.models import AppendOnlyModel, SupportTier, staff_only
from helpdesk.validators import validate_timezone  # noqa: F401 - named by sla migration 0001
from tickets.custom_fields import check_conditions

from .calendar import BusinessCalendar


class Metric(models.TextChoices):
    FIRST_RESPONSE = "first_response", gettext_lazy("First response")
    NEXT_RESPONSE = "next_response", gettext_lazy("Next response")
    PERIODIC_UPDATE = "periodic_update", gettext_lazy("Periodic update")
    RESOLUTION = "resolution", gettext_lazy("Resolution")


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class Calendar(models.Model):
    """Business hours in a time zone, with holidays; builds a sla.calendar.BusinessCalendar."""

    name = models.CharField(max_length=100, unique=True, verbose_name=_("name"))
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone],
                                verbose_name=_("timezone"))
    always_open = models.BooleanField(default=False, help_text=_("24/7: hours are ignored."),
                                      verbose_name=_("always open"))
    country = models.CharField(
        max_length=8, blank=True,
        help_text=_("ISO country code (optionally COUNTRY-SUBDIVISION) for holiday import."),
        verbose_name=_("country"),
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("calendar")
        verbose_name_plural = _("calendars")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.timezone})"

    def business_calendar(self) -> BusinessCalendar:
        """The calendar as a pure object (cached per process until the row changes)."""
        key = (self.pk, self.updated_at)
        cached = _calendar_cache.get(self.pk)
        if cached and cached[0] == key:
            return cached[1]
        if self.always_open:
            built = BusinessCalendar.always()
        else:
            hours: dict[int, list] = {d: [] for d in range(7)}
            for row in self.hours.all():
                hours[row.weekday].append((row.start, row.end))
            built = BusinessCalendar(
                self.timezone, hours, self.holidays.values_list("date", flat=True)
            )
        _calendar_cache[self.pk] = (key, built)
        return built


_midnight = time(0)
_calendar_cache: dict[int, tuple[tuple, BusinessCalendar]] = {}


class BusinessHours(models.Model):
    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="hours",
                                 verbose_name=_("calendar"))
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices, verbose_name=_("weekday"))
    start = models.TimeField(verbose_name=_("start"))
    end = models.TimeField(help_text=_("00:00 means midnight at the end of the day."),
                           verbose_name=_("end"))

    class Meta:
        ordering = ["calendar", "weekday", "start"]
        verbose_name = _("business hours")
        verbose_name_plural = _("business hours")

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M}"

    def clean(self) -> None:
        if self.end != _midnight and self.end <= self.start:
            raise ValidationError(_("The end must be after the start (00:00 = midnight)."))


class Holiday(models.Model):
    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="holidays",
                                 verbose_name=_("calendar"))
    date = models.DateField(verbose_name=_("date"))
    name = models.CharField(max_length=120, blank=True, verbose_name=_("name"))

    class Meta:
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")
        ordering = ["calendar", "date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="unique_calendar_holiday")
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class Policy(models.Model):
    """Targets that apply to tickets matching its conditions; the first match (by order) wins."""

    name = models.CharField(max_length=120, unique=True, verbose_name=_("name"))
    order = models.PositiveIntegerField(default=100, db_index=True, verbose_name=_("order"))
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))
    description = models.TextField(blank=True, verbose_name=_("description"))
    # Conditions: an empty condition matches every ticket.
    org_tiers = models.JSONField(default=list, blank=True, verbose_name=_("org tiers"))
    priorities = models.JSONField(default=list, blank=True, help_text=_("List of 1..5."),
                                  verbose_name=_("priorities"))
    channels = models.JSONField(default=list, blank=True, verbose_name=_("channels"))
    teams = models.ManyToManyField("helpdesk.Team", blank=True, related_name="+",
                                   verbose_name=_("teams"))
    tags = models.ManyToManyField("tickets.Tag", blank=True, related_name="+",
                                  verbose_name=_("tags"))
    custom_field_conditions = models.JSONField(
        default=list, blank=True,
        help_text=_('Custom field tests, all of which must hold, e.g. [{"field": "plan", '
                    '"op": "eq", "value": "Enterprise"}]. Operators: eq, ne, in, contains, gt, '
                    'gte, lt, lte, set, empty.'), verbose_name=_("custom field conditions"))
    # Rules
    pause_on_third_party = models.BooleanField(
        default=False, help_text=_("Waiting on a third party pauses the clocks."),
        verbose_name=_("pause on third party")
    )
    apply_tier_multipliers = models.BooleanField(default=True,
                                                 verbose_name=_("apply tier multipliers"))

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("policy")
        verbose_name_plural = _("policies")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        check_conditions(self.custom_field_conditions, name="custom_field_conditions")


class Target(models.Model):
    """How long a metric may take for one priority under a policy."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="targets",
                               verbose_name=_("policy"))
    priority = models.PositiveSmallIntegerField(choices=[(p, f"P{p}") for p in range(1, 6)],
                                                verbose_name=_("priority"))
    metric = models.CharField(max_length=20, choices=Metric.choices, verbose_name=_("metric"))
    contractual = models.DurationField(help_text=_("The commitment in the support agreement."),
                                       verbose_name=_("contractual"))
    internal = models.DurationField(
        null=True, blank=True, help_text=_("A tighter internal goal (defaults to contractual)."),
        verbose_name=_("internal")
    )
    calendar = models.ForeignKey(
        Calendar, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text=_("Empty: the clock runs 24/7."), verbose_name=_("calendar"),
    )

    class Meta:
        verbose_name = _("target")
        verbose_name_plural = _("targets")
        ordering = ["policy", "priority", "metric"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "priority", "metric"],
                                    name="unique_policy_target")
        ]

    def __str__(self) -> str:
        return f"{self.policy}: P{self.priority} {self.get_metric_display()}"

    def clean(self) -> None:
        if self.contractual <= timedelta(0):
            raise ValidationError({"contractual": _("The target must be positive.")})
        if self.internal is not None and not (timedelta(0) < self.internal <= self.contractual):
            raise ValidationError({"internal": _("Must be positive and at most the contractual.")})


class TierMultiplier(models.Model):
    tier = models.CharField(max_length=20, choices=SupportTier.choices, unique=True,
                            verbose_name=_("tier"))
    factor = models.DecimalField(max_digits=5, decimal_places=2, verbose_name=_("factor"))

    class Meta:
        verbose_name = _("tier multiplier")
        verbose_name_plural = _("tier multipliers")
        ordering = ["factor"]

    def __str__(self) -> str:
        return f"{self.get_tier_display()} × {self.factor}"


class Override(models.Model):
    """A temporary change of targets for a known high-volume period."""

    name = models.CharField(max_length=120, verbose_name=_("name"))
    reason = models.TextField(verbose_name=_("reason"))
    starts_at = models.DateTimeField(verbose_name=_("starts at"))
    ends_at = models.DateTimeField(verbose_name=_("ends at"))
    policy = models.ForeignKey(
        Policy, null=True, blank=True, on_delete=models.CASCADE, related_name="overrides",
        help_text=_("Empty: every policy."), verbose_name=_("policy"),
    )
    priorities = models.JSONField(default=list, blank=True, help_text=_("Empty: all."),
                                  verbose_name=_("priorities"))
    metrics = models.JSONField(default=list, blank=True, help_text=_("Empty: all."),
                               verbose_name=_("metrics"))
    factor = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True,
        help_text=_("Multiply targets by this factor…"), verbose_name=_("factor"),
    )
    replacement = models.DurationField(
        null=True, blank=True, help_text=_("…or replace the contractual target with this."),
        verbose_name=_("replacement")
    )

    class Meta:
        verbose_name = _("override")
        verbose_name_plural = _("overrides")
        ordering = ["-starts_at"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.ends_at and self.starts_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": _("The end must be after the start.")})
        if (self.factor is None) == (self.replacement is None):
            raise ValidationError(_("Give either a factor or a replacement target."))


class LevelColour(models.TextChoices):
    YELLOW = "yellow", gettext_lazy("Yellow")
    ORANGE = "orange", gettext_lazy("Orange")
    RED = "red", gettext_lazy("Red")
    BREACH = "breach", gettext_lazy("Breach")
    SEVERE = "severe", gettext_lazy("Severe breach")


class Level(models.Model):
    """A warning or breach step at a share of the target, with what to do when crossed."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="levels",
                               verbose_name=_("policy"))
    percent = models.PositiveSmallIntegerField(
        help_text=_("Share of the target elapsed (100 = breach)."), verbose_name=_("percent")
    )
    colour = models.CharField(max_length=10, choices=LevelColour.choices, verbose_name=_("colour"))
    notify_assignee = models.BooleanField(default=False, verbose_name=_("notify assignee"))
    notify_team_lead = models.BooleanField(default=False, verbose_name=_("notify team lead"))
    notify_managers = models.BooleanField(default=False, verbose_name=_("notify managers"))
    notify_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+", limit_choices_to=staff_only,
        help_text=_("Anyone else to notify (e.g. the director for a severe breach)."),
        verbose_name=_("notify users"),
    )
    reassign_to_team = models.ForeignKey(
        "helpdesk.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("reassign to team")
    )
    raise_priority = models.BooleanField(default=False, verbose_name=_("raise priority"))

    class Meta:
        verbose_name = _("level")
        verbose_name_plural = _("levels")
        ordering = ["policy", "percent"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "percent"], name="unique_policy_level")
        ]

    def __str__(self) -> str:
        return f"{self.percent}% {self.get_colour_display()}"


class ClockState(models.TextChoices):
    RUNNING = "running", gettext_lazy("Running")
    PAUSED = "paused", gettext_lazy("Paused")
    MET = "met", gettext_lazy("Met")
    BREACHED = "breached", gettext_lazy("Breached")
    EXEMPT = "exempt", gettext_lazy("Exempt")


ACTIVE_STATES = [ClockState.RUNNING, ClockState.PAUSED, ClockState.BREACHED]


class Clock(models.Model):
    """One SLA metric of one ticket (one row per resolution cycle after a reopen).

    A breached clock keeps counting (for the severe-breach level) until it completes;
    `completed_at` tells a finished clock from an active one.
    """

    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.CASCADE, related_name="sla_clocks",
        verbose_name=_("ticket")
    )
    metric = models.CharField(max_length=20, choices=Metric.choices, verbose_name=_("metric"))
    cycle = models.PositiveSmallIntegerField(default=1, verbose_name=_("cycle"))
    policy = models.ForeignKey(Policy, null=True, on_delete=models.SET_NULL, related_name="+",
                               verbose_name=_("policy"))
    calendar = models.ForeignKey(
        Calendar, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("calendar")
    )
    target = models.DurationField(help_text=_("Contractual target after multipliers/overrides."),
                                  verbose_name=_("target"))
    internal_target = models.DurationField(verbose_name=_("internal target"))
    state = models.CharField(max_length=10, choices=ClockState.choices,
                             default=ClockState.RUNNING, verbose_name=_("state"))
    started_at = models.DateTimeField(verbose_name=_("started at"))
    # Start of the current running segment; business time before it is in `business_used`.
    segment_started_at = models.DateTimeField(null=True, blank=True,
                                              verbose_name=_("segment started at"))
    business_used = models.DurationField(default=timedelta(0), verbose_name=_("business used"))
    paused_at = models.DateTimeField(null=True, blank=True, verbose_name=_("paused at"))
    due_at = models.DateTimeField(null=True, blank=True, verbose_name=_("due at"))
    internal_due_at = models.DateTimeField(null=True, blank=True, verbose_name=_("internal due at"))
    met_at = models.DateTimeField(null=True, blank=True, verbose_name=_("met at"))
    breached_at = models.DateTimeField(null=True, blank=True, verbose_name=_("breached at"))
    # Stands once set, as breached_at does: the internal-goal figures read it.
    internal_breached_at = models.DateTimeField(
        null=True, blank=True,
        help_text=_("When the business time used reached an internal target the clock had."),
        verbose_name=_("internal breached at"))
    completed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("completed at"))
    exempt_reason = models.CharField(max_length=255, blank=True, verbose_name=_("exempt reason"))
    # The escalation scan reads only this indexed column: the next level still to fire.
    next_level_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next level at"))
    next_level_percent = models.PositiveSmallIntegerField(null=True, blank=True,
                                                          verbose_name=_("next level percent"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("clock")
        verbose_name_plural = _("clocks")
        ordering = ["ticket", "metric", "cycle"]
        constraints = [
            models.UniqueConstraint(fields=["ticket", "metric", "cycle"],
                                    name="unique_clock_cycle"),
        ]
        indexes = [
            models.Index(fields=["next_level_at"], name="clock_next_level",
                         condition=Q(next_level_at__isnull=False)),
            models.Index(fields=["ticket", "metric", "-cycle"], name="clock_ticket_metric"),
            models.Index(fields=["started_at"], name="clock_started"),
            # SLA rollup sync: clocks changed since its last run.
            models.Index(fields=["updated_at"], name="clock_updated"),
            # Metrics rollup sync: clocks completed since its last run.
            models.Index(fields=["completed_at"], name="clock_completed"),
            # Approaching breach: counting clocks most urgent first, a walk of the few
            # thousand open ones instead of a sort of every overdue clock; with the ticket
            # included, its capped count never reads the clocks themselves.
            models.Index(fields=["due_at", "id"], name="clock_counting_due",
                         include=["ticket"],
                         condition=Q(completed_at__isnull=True,
                                     state__in=["running", "breached"],
                                     due_at__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"#{self.ticket_id} {self.get_metric_display()} ({self.get_state_display()})"

    @property
    def is_active(self) -> bool:
        return self.completed_at is None and self.state in ACTIVE_STATES


class ClockLevelFire(models.Model):
    """A level crossed by a clock: the unique row makes firing happen exactly once."""

    clock = models.ForeignKey(Clock, on_delete=models.CASCADE, related_name="fired_levels",
                              verbose_name=_("clock"))
    percent = models.PositiveSmallIntegerField(verbose_name=_("percent"))
    scheduled_at = models.DateTimeField(help_text=_("When the level was due."),
                                        verbose_name=_("scheduled at"))
    fired_at = models.DateTimeField(verbose_name=_("fired at"))

    class Meta:
        verbose_name = _("clock level fire")
        verbose_name_plural = _("clock level fires")
        ordering = ["clock", "percent"]
        constraints = [
            models.UniqueConstraint(fields=["clock", "percent"], name="unique_level_fire")
        ]

    def __str__(self) -> str:
        return gettext("%(clock)s at %(percent)s%%") % {"clock": self.clock,
                                                        "percent": self.percent}


class ClockEventKind(models.TextChoices):
    STARTED = "started", gettext_lazy("Started")
    PAUSED = "paused", gettext_lazy("Paused")
    RESUMED = "resumed", gettext_lazy("Resumed")
    MET = "met", gettext_lazy("Met")
    BREACHED = "breached", gettext_lazy("Breached")
    EXEMPTED = "exempted", gettext_lazy("Exempted")
    RECOMPUTED = "recomputed", gettext_lazy("Recomputed")
    LEVEL = "level", gettext_lazy("Level crossed")
    STOPPED = "stopped", gettext_lazy("Stopped")
    # A wrong record put right (sla_repair_clocks).
    CORRECTED = "corrected", gettext_lazy("Corrected")


class ClockEvent(AppendOnlyModel):
    """Append-only audit trail of every clock change, with actor and reason."""

    clock = models.ForeignKey(Clock, on_delete=models.CASCADE, related_name="events",
                              verbose_name=_("clock"))
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+",
                               verbose_name=_("ticket"))
    kind = models.CharField(max_length=12, choices=ClockEventKind.choices, verbose_name=_("kind"))
    at = models.DateTimeField(verbose_name=_("at"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", verbose_name=_("actor"),
    )
    reason = models.CharField(max_length=255, blank=True, verbose_name=_("reason"))
    data = models.JSONField(default=dict, blank=True, verbose_name=_("data"))

    class Meta:
        verbose_name = _("clock event")
        verbose_name_plural = _("clock events")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["ticket", "at"], name="clockevent_ticket_at")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.clock}"


class ClockPause(models.Model):
    """One pause of a clock: who paused it, why, and for how long (the clock-gaming report)."""

    clock = models.ForeignKey(Clock, on_delete=models.CASCADE, related_name="pauses",
                              verbose_name=_("clock"))
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+",
                               verbose_name=_("ticket"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", verbose_name=_("actor"),
    )
    reason = models.CharField(max_length=255, blank=True, verbose_name=_("reason"))
    started_at = models.DateTimeField(verbose_name=_("started at"))
    ended_at = models.DateTimeField(null=True, blank=True, verbose_name=_("ended at"))
    business_time = models.DurationField(
        null=True, blank=True, help_text=_("Business time the pause kept off the clock."),
        verbose_name=_("business time")
    )

    class Meta:
        verbose_name = _("clock pause")
        verbose_name_plural = _("clock pauses")
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["started_at"], name="clockpause_started")]

    def __str__(self) -> str:
        return gettext("%(clock)s paused %(since)s") % {
            "clock": self.clock, "since": f"{self.started_at:%Y-%m-%d %H:%M}"}


class ClockDay(models.Model):
    """The SLA dashboard's figures of the clocks started on one UTC day, per metric and per
    the ticket fields the dashboard filters by (not the assignee: with it there would be
    nearly a row per clock).

    Kept by `sla.rollup` (`sync` every few minutes follows changed clocks and tickets,
    `rebuild` nightly and by `manage.py rebuild_sla_rollup`); the dashboard reads these
    rows for the days they cover and the clocks themselves for the current day.
    """

    day = models.DateField(verbose_name=_("day"))
    metric = models.CharField(max_length=20, choices=Metric.choices, verbose_name=_("metric"))
    team_id = models.IntegerField(null=True, verbose_name=_("team id"))
    tier = models.CharField(max_length=20, null=True, verbose_name=_("tier"))
    priority = models.PositiveSmallIntegerField(null=True, verbose_name=_("priority"))
    channel = models.CharField(max_length=10, null=True, verbose_name=_("channel"))
    clocks = models.IntegerField(default=0, verbose_name=_("clocks"))
    met = models.IntegerField(default=0, verbose_name=_("met"))
    breached = models.IntegerField(default=0, verbose_name=_("breached"))
    internal_met = models.IntegerField(default=0, verbose_name=_("internal met"))
    exempt = models.IntegerField(default=0, verbose_name=_("exempt"))
    active = models.IntegerField(default=0, verbose_name=_("active"))
    breaches = models.IntegerField(default=0, verbose_name=_("breaches"))
    severe = models.IntegerField(default=0, verbose_name=_("severe"))
    leading_met = models.IntegerField(default=0, verbose_name=_("leading met"))
    sum_used = models.DurationField(null=True, verbose_name=_("sum used"))
    sum_target = models.DurationField(null=True, verbose_name=_("sum target"))
    sum_internal_target = models.DurationField(null=True, verbose_name=_("sum internal target"))

    class Meta:
        verbose_name = _("clock day")
        verbose_name_plural = _("clock days")
        indexes = [models.Index(fields=["day"], name="clockday_day")]

    def __str__(self) -> str:
        values = {"day": self.day, "metric": self.get_metric_display(), "count": self.clocks}
        return ngettext("%(day)s %(metric)s: %(count)s clock",
                        "%(day)s %(metric)s: %(count)s clocks", self.clocks) % values


class ClockRollupState(models.Model):
    """Singleton: which days `ClockDay` holds, and up to when changes were folded in."""

    covered_from = models.DateField(null=True, blank=True, verbose_name=_("covered from"))
    # Days before this one are stored; it and later ones are computed live.
    covered_to = models.DateField(null=True, blank=True, verbose_name=_("covered to"))
    synced_at = models.DateTimeField(null=True, blank=True, verbose_name=_("synced at"))
    rebuilt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("rebuilt at"))

    class Meta:
        verbose_name = _("clock rollup state")
        verbose_name_plural = _("clock rollup states")

    def __str__(self) -> str:
        return gettext("SLA rollup %(start)s – %(end)s") % {"start": self.covered_from,
                                                            "end": self.covered_to}

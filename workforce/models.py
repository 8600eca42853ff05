"""Workforce: capacity settings, shifts and schedules, time off, agent status, on-call."""
from __future__ import annotations

from datetime import time
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from helpdesk.models import staff_only
from helpdesk.validators import validate_timezone

USER = settings.AUTH_USER_MODEL


# --- capacity ---------------------------------------------------------------------------

class TeamCapacity(models.Model):
    """Staffing assumptions of a team (defaults: shrinkage 30 %, L1 70 % utilisation...)."""

    team = models.OneToOneField("helpdesk.Team", verbose_name=_("team"), on_delete=models.CASCADE,
                                related_name="capacity")
    utilization = models.DecimalField(
        verbose_name=_("utilization"), max_digits=4, decimal_places=2, default=Decimal("0.70"),
        validators=[MinValueValidator(Decimal("0.05")), MaxValueValidator(Decimal("1"))],
        help_text=_("Target share of productive time spent on tickets (FTE model)."),
    )
    shrinkage = models.DecimalField(
        verbose_name=_("shrinkage"), max_digits=4, decimal_places=2, default=Decimal("0.30"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("0.95"))],
        help_text=_("Share of paid time not available (breaks, training, leave)."),
    )
    service_level = models.DecimalField(
        verbose_name=_("service level"), max_digits=4, decimal_places=2, default=Decimal("0.80"),
        help_text=_("Erlang C queues (chat, phone): share answered within the target."),
    )
    answer_target_seconds = models.PositiveIntegerField(
        verbose_name=_("answer target seconds"), default=60,
    )
    max_occupancy = models.DecimalField(verbose_name=_("max occupancy"), max_digits=4,
                                        decimal_places=2, default=Decimal("0.85"))
    productive_minutes_per_fte = models.PositiveIntegerField(
        verbose_name=_("productive minutes per fte"), default=360,
    )

    class Meta:
        verbose_name = _("team capacity")
        verbose_name_plural = _("team capacities")

    def __str__(self) -> str:
        return gettext("Capacity of %(team)s") % {"team": self.team}


class Hire(models.Model):
    """A new agent ramping up: counts 0/0/25/50/75/100 % over the first weeks (ramp model)."""

    agent = models.ForeignKey(USER, verbose_name=_("agent"), on_delete=models.CASCADE,
                              related_name="hires", limit_choices_to=staff_only)
    team = models.ForeignKey("helpdesk.Team", verbose_name=_("team"), on_delete=models.CASCADE,
                             related_name="hires")
    started_on = models.DateField(verbose_name=_("started on"))

    class Meta:
        verbose_name = _("hire")
        verbose_name_plural = _("hires")
        ordering = ["-started_on"]

    def __str__(self) -> str:
        return gettext("%(agent)s joined %(team)s on %(date)s") % {
            "agent": self.agent, "team": self.team, "date": self.started_on}


class ForecastRun(models.Model):
    """A stored forecast, kept so that its accuracy (MAPE) can be measured afterwards."""

    class Method(models.TextChoices):
        MOVING_AVERAGE = "moving_average", _("Moving average")
        SEASONAL = "seasonal", _("Day-of-week × hour-of-day seasonality")
        SEASONAL_TREND = "seasonal_trend", _("Seasonality with trend")

    team = models.ForeignKey("helpdesk.Team", verbose_name=_("team"), null=True, blank=True,
                             on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(verbose_name=_("channel"), max_length=10, blank=True)
    method = models.CharField(verbose_name=_("method"), max_length=20, choices=Method.choices)
    created_at = models.DateTimeField(verbose_name=_("created at"))
    starts_at = models.DateTimeField(verbose_name=_("starts at"),
                                     help_text=_("First forecast hour (UTC)."))
    hours = models.PositiveIntegerField(verbose_name=_("hours"), default=168)
    history_weeks = models.PositiveSmallIntegerField(verbose_name=_("history weeks"), default=8)

    class Meta:
        verbose_name = _("forecast run")
        verbose_name_plural = _("forecast runs")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return gettext("%(method)s from %(start)s") % {"method": self.get_method_display(),
                                                      "start": f"{self.starts_at:%Y-%m-%d}"}


class ForecastPoint(models.Model):
    run = models.ForeignKey(ForecastRun, verbose_name=_("run"), on_delete=models.CASCADE,
                            related_name="points")
    hour = models.DateTimeField(verbose_name=_("hour"), help_text=_("Start of the hour (UTC)."))
    expected = models.FloatField(verbose_name=_("expected"))

    class Meta:
        verbose_name = _("forecast point")
        verbose_name_plural = _("forecast points")
        ordering = ["run", "hour"]
        constraints = [models.UniqueConstraint(fields=["run", "hour"], name="unique_point")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H:00} {self.expected:.1f}"


# --- schedules --------------------------------------------------------------------------

class ShiftTemplate(models.Model):
    """A shift pattern in the agent's local time (early 6–14, core 9–17, late 12–20, split)."""

    name = models.CharField(verbose_name=_("name"), max_length=60, unique=True)
    start = models.TimeField(verbose_name=_("start"))
    end = models.TimeField(verbose_name=_("end"),
                           help_text=_("May be earlier than the start for a night shift."))
    second_start = models.TimeField(verbose_name=_("second start"), null=True, blank=True,
                                    help_text=_("Split shifts only."))
    second_end = models.TimeField(verbose_name=_("second end"), null=True, blank=True)
    break_minutes = models.PositiveSmallIntegerField(verbose_name=_("break minutes"), default=30)

    class Meta:
        verbose_name = _("shift template")
        verbose_name_plural = _("shift templates")
        ordering = ["start", "name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if (self.second_start is None) != (self.second_end is None):
            raise ValidationError(_("A split shift needs both a second start and end."))


class ScheduledShift(models.Model):
    """One agent working one shift; instants in UTC, made from the agent's local time."""

    # No index of its own: shift_agent_start and shift_agent_end lead with it. Beside them
    # the planner took this one for the availability checks and filtered every past
    # shift of the agent (issue 21: 15 ms of each routed ticket create on the full data).
    agent = models.ForeignKey(USER, verbose_name=_("agent"), on_delete=models.CASCADE,
                              related_name="shifts", limit_choices_to=staff_only, db_index=False)
    team = models.ForeignKey("helpdesk.Team", verbose_name=_("team"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="shifts")
    template = models.ForeignKey(ShiftTemplate, verbose_name=_("template"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    starts_at = models.DateTimeField(verbose_name=_("starts at"))
    ends_at = models.DateTimeField(verbose_name=_("ends at"))
    break_minutes = models.PositiveSmallIntegerField(verbose_name=_("break minutes"), default=30)
    note = models.CharField(verbose_name=_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("scheduled shift")
        verbose_name_plural = _("scheduled shifts")
        ordering = ["starts_at"]
        indexes = [
            models.Index(fields=["agent", "starts_at"], name="shift_agent_start"),
            models.Index(fields=["team", "starts_at"], name="shift_team_start"),
            # Assignment asks, for each member of the team, "any shift within a week?"
            # and "on shift now?" (selectors.available_members): both bound the end, so
            # each probe reads the agent's next few shifts, not their whole history.
            models.Index(fields=["agent", "ends_at"], name="shift_agent_end"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")),
                                   name="shift_ends_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.agent} {self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%H:%M}"


class TimeOff(models.Model):
    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    agent = models.ForeignKey(USER, verbose_name=_("agent"), on_delete=models.CASCADE,
                              related_name="time_off", limit_choices_to=staff_only)
    starts_at = models.DateTimeField(verbose_name=_("starts at"))
    ends_at = models.DateTimeField(verbose_name=_("ends at"))
    reason = models.CharField(verbose_name=_("reason"), max_length=200, blank=True)
    status = models.CharField(verbose_name=_("status"), max_length=10, choices=Status.choices,
                              default=Status.REQUESTED)
    decided_by = models.ForeignKey(USER, verbose_name=_("decided by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(verbose_name=_("decided at"), null=True, blank=True)

    class Meta:
        verbose_name = _("time off")
        ordering = ["-starts_at"]
        # The same English word, not the same German one.
        verbose_name_plural = pgettext_lazy("plural", "time off")
        indexes = [models.Index(fields=["agent", "starts_at"], name="timeoff_agent_start")]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")),
                                   name="timeoff_ends_after_start"),
        ]

    def __str__(self) -> str:
        return gettext("%(agent)s off %(start)s–%(end)s") % {
            "agent": self.agent, "start": f"{self.starts_at:%Y-%m-%d}",
            "end": f"{self.ends_at:%Y-%m-%d}"}


class AgentState(models.TextChoices):
    AVAILABLE = "available", _("Available")
    BREAK = "break", _("On break")
    TRAINING = "training", _("In training")
    MEETING = "meeting", _("Meeting")
    OFFLINE = "offline", _("Offline")


PRODUCTIVE_STATES = [AgentState.AVAILABLE]


class AgentStatus(models.Model):
    """An interval of one agent status; the open one (ended_at empty) is the current one."""

    agent = models.ForeignKey(USER, verbose_name=_("agent"), on_delete=models.CASCADE,
                              related_name="statuses")
    status = models.CharField(verbose_name=_("status"), max_length=10, choices=AgentState.choices)
    started_at = models.DateTimeField(verbose_name=_("started at"))
    ended_at = models.DateTimeField(verbose_name=_("ended at"), null=True, blank=True)

    class Meta:
        verbose_name = _("agent status")
        ordering = ["agent", "started_at"]
        verbose_name_plural = _("agent statuses")
        indexes = [models.Index(fields=["agent", "started_at"], name="status_agent_start")]
        constraints = [
            models.UniqueConstraint(fields=["agent"], condition=Q(ended_at__isnull=True),
                                    name="one_open_status_per_agent"),
        ]

    def __str__(self) -> str:
        return gettext("%(agent)s %(status)s from %(start)s") % {
            "agent": self.agent, "status": self.get_status_display(),
            "start": f"{self.started_at:%H:%M}"}


# --- on-call ----------------------------------------------------------------------------

class Rotation(models.Model):
    """A weekly on-call rotation: members take turns; handoff at a set local time."""

    name = models.CharField(verbose_name=_("name"), max_length=100, unique=True)
    team = models.ForeignKey("helpdesk.Team", verbose_name=_("team"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="rotations")
    timezone = models.CharField(verbose_name=_("timezone"), max_length=64, default="UTC",
                                validators=[validate_timezone])
    handoff_weekday = models.PositiveSmallIntegerField(
        verbose_name=_("handoff weekday"), default=0, validators=[MaxValueValidator(6)],
        help_text=_("0 = Monday."),
    )
    handoff_time = models.TimeField(verbose_name=_("handoff time"), default=time(9))
    starts_on = models.DateField(verbose_name=_("starts on"),
                                 help_text=_("The first handoff date of the rotation."))
    after_hours_p1_only = models.BooleanField(
        verbose_name=_("after hours p1 only"), default=True,
        help_text=_("Outside business hours, page only for P1."),
    )
    business_start = models.TimeField(verbose_name=_("business start"), default=time(9))
    business_end = models.TimeField(verbose_name=_("business end"), default=time(17))
    skip_after_pages = models.PositiveSmallIntegerField(
        verbose_name=_("skip after pages"), default=2,
        help_text=_("Paged this many times in a week: skipped the following week."),
    )

    class Meta:
        verbose_name = _("rotation")
        verbose_name_plural = _("rotations")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RotationMember(models.Model):
    rotation = models.ForeignKey(Rotation, verbose_name=_("rotation"), on_delete=models.CASCADE,
                                 related_name="members")
    user = models.ForeignKey(USER, verbose_name=_("user"), on_delete=models.CASCADE,
                             related_name="rotation_memberships", limit_choices_to=staff_only)
    position = models.PositiveSmallIntegerField(verbose_name=_("position"))

    class Meta:
        verbose_name = _("rotation member")
        verbose_name_plural = _("rotation members")
        ordering = ["rotation", "position"]
        constraints = [
            models.UniqueConstraint(fields=["rotation", "user"], name="unique_rotation_member"),
            models.UniqueConstraint(fields=["rotation", "position"],
                                    name="unique_rotation_position"),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.user}"


class OnCallRole(models.TextChoices):
    PRIMARY = "primary", _("Primary")
    SECONDARY = "secondary", _("Secondary")


class OnCallOverride(models.Model):
    """Someone else covers a role for a period (an override, or one half of a swap)."""

    rotation = models.ForeignKey(Rotation, verbose_name=_("rotation"), on_delete=models.CASCADE,
                                 related_name="overrides")
    role = models.CharField(verbose_name=_("role"), max_length=10, choices=OnCallRole.choices,
                            default=OnCallRole.PRIMARY)
    user = models.ForeignKey(USER, verbose_name=_("user"), on_delete=models.CASCADE,
                             related_name="+", limit_choices_to=staff_only)
    starts_at = models.DateTimeField(verbose_name=_("starts at"))
    ends_at = models.DateTimeField(verbose_name=_("ends at"))
    reason = models.CharField(verbose_name=_("reason"), max_length=200, blank=True)
    swap_with = models.ForeignKey("self", verbose_name=_("swap with"), null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+",
                                  help_text=_("The other half of a swap."))
    created_by = models.ForeignKey(USER, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("on call override")
        verbose_name_plural = _("on call overrides")
        ordering = ["-starts_at"]
        indexes = [models.Index(fields=["rotation", "starts_at"], name="override_rotation_start")]

    def __str__(self) -> str:
        return gettext("%(user)s covers %(role)s of %(rotation)s") % {
            "user": self.user, "role": self.get_role_display(), "rotation": self.rotation}


class Page(models.Model):
    """A page sent to someone on call, recorded (the paged-twice rule counts these)."""

    rotation = models.ForeignKey(Rotation, verbose_name=_("rotation"), on_delete=models.CASCADE,
                                 related_name="pages")
    user = models.ForeignKey(USER, verbose_name=_("user"), on_delete=models.CASCADE,
                             related_name="pages")
    role = models.CharField(verbose_name=_("role"), max_length=10, choices=OnCallRole.choices)
    ticket = models.ForeignKey("tickets.Ticket", verbose_name=_("ticket"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(verbose_name=_("reason"), max_length=255)
    priority = models.PositiveSmallIntegerField(verbose_name=_("priority"), null=True, blank=True)
    after_hours = models.BooleanField(verbose_name=_("after hours"), default=False)
    created_at = models.DateTimeField(verbose_name=_("created at"))
    acknowledged_at = models.DateTimeField(verbose_name=_("acknowledged at"), null=True, blank=True)
    dedupe_key = models.CharField(verbose_name=_("dedupe key"), max_length=200, null=True,
                                  blank=True, unique=True)

    class Meta:
        # "page" alone is also the page of a listing.
        verbose_name = pgettext_lazy("on-call", "page")
        verbose_name_plural = pgettext_lazy("on-call", "pages")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["rotation", "user", "created_at"],
                                name="page_rotation_user_time"),
                   # The rotation's page log, newest first: without it a busy rotation's
                   # log sorts every page it ever sent (700 ms at a million tickets).
                   models.Index(fields=["rotation", "-created_at"], name="page_rotation_time")]

    def __str__(self) -> str:
        return gettext("Page to %(user)s at %(time)s") % {
            "user": self.user, "time": f"{self.created_at:%Y-%m-%d %H:%M}"}


class EscalationPolicy(models.Model):
    """Who is paged when nobody answers: primary at once, secondary after 15 min..."""

    name = models.CharField(verbose_name=_("name"), max_length=100, unique=True)
    rotation = models.ForeignKey(Rotation, verbose_name=_("rotation"), on_delete=models.CASCADE,
                                 related_name="escalation_policies")

    class Meta:
        verbose_name = _("escalation policy")
        ordering = ["name"]
        verbose_name_plural = _("escalation policies")

    def __str__(self) -> str:
        return self.name


class EscalationStep(models.Model):
    class Target(models.TextChoices):
        PRIMARY = "primary", _("Primary on call")
        SECONDARY = "secondary", _("Secondary on call")
        MANAGERS = "managers", _("Managers")
        USER = "user", _("A named person")

    policy = models.ForeignKey(EscalationPolicy, verbose_name=_("policy"), on_delete=models.CASCADE,
                               related_name="steps")
    after_minutes = models.PositiveIntegerField(verbose_name=_("after minutes"))
    target = models.CharField(verbose_name=_("target"), max_length=10, choices=Target.choices)
    user = models.ForeignKey(USER, verbose_name=_("user"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+",
                             limit_choices_to=staff_only)

    class Meta:
        verbose_name = _("escalation step")
        verbose_name_plural = _("escalation steps")
        ordering = ["policy", "after_minutes"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "after_minutes", "target"],
                                    name="unique_escalation_step"),
        ]

    def __str__(self) -> str:
        return gettext("%(target)s after %(minutes)s min") % {
            "target": self.get_target_display(), "minutes": self.after_minutes}


# --- capacity rollup (workforce.rollup) ---------------------------------------------------

class ArrivalHour(models.Model):
    """Tickets opened per UTC hour, team (0 = none) and channel: the arrival history the
    forecasts and the capacity page read (8 weeks of a team are about 7,000 rows instead
    of 280,000 tickets). Written only by `workforce.rollup`."""

    hour = models.DateTimeField(verbose_name=_("hour"),
                                help_text=_("Start of the UTC hour the tickets were opened."))
    team_id = models.PositiveIntegerField(verbose_name=_("team id"), default=0)
    channel = models.CharField(verbose_name=_("channel"), max_length=10)
    tickets = models.PositiveIntegerField(verbose_name=_("tickets"), default=0)

    class Meta:
        verbose_name = _("arrival hour")
        verbose_name_plural = _("arrival hours")
        constraints = [models.UniqueConstraint(fields=["team_id", "hour", "channel"],
                                               name="wf_arrival_key")]
        indexes = [models.Index(fields=["hour"], name="wf_arrival_hour")]

    def __str__(self) -> str:
        return gettext("%(hour)s team %(team)s %(channel)s: %(tickets)s") % {
            "hour": f"{self.hour:%Y-%m-%d %H:00}", "team": self.team_id,
            "channel": self.channel, "tickets": self.tickets}


class HandleDay(models.Model):
    """Per UTC day the tickets were opened, team (0 = none) and priority: what the monthly
    staffing table counts (tickets; of the resolved ones, those with logged time and their
    minutes, those without and their elapsed time). Written only by `workforce.rollup`."""

    day = models.DateField(verbose_name=_("day"))
    team_id = models.PositiveIntegerField(verbose_name=_("team id"), default=0)
    priority = models.PositiveSmallIntegerField(verbose_name=_("priority"))
    tickets = models.PositiveIntegerField(verbose_name=_("tickets"), default=0)
    # Resolved tickets with minutes logged on them, and the sum of those minutes.
    tracked = models.PositiveIntegerField(verbose_name=_("tracked"), default=0)
    tracked_minutes = models.BigIntegerField(verbose_name=_("tracked minutes"), default=0)
    # Resolved tickets without logged minutes, and their resolved − created, in microseconds.
    untracked = models.PositiveIntegerField(verbose_name=_("untracked"), default=0)
    untracked_elapsed_us = models.BigIntegerField(verbose_name=_("untracked elapsed us"), default=0)

    class Meta:
        verbose_name = _("handle day")
        verbose_name_plural = _("handle days")
        constraints = [models.UniqueConstraint(fields=["day", "team_id", "priority"],
                                               name="wf_handle_day_key")]

    def __str__(self) -> str:
        return gettext("%(day)s team %(team)s P%(priority)s: %(tickets)s") % {
            "day": self.day, "team": self.team_id, "priority": self.priority,
            "tickets": self.tickets}


class CapacityRollupState(models.Model):
    """Singleton: the UTC days `ArrivalHour` and `HandleDay` hold ([covered_from,
    covered_to)), and up to when changes were folded in."""

    covered_from = models.DateField(verbose_name=_("covered from"), null=True, blank=True)
    covered_to = models.DateField(verbose_name=_("covered to"), null=True, blank=True)
    synced_at = models.DateTimeField(verbose_name=_("synced at"), null=True, blank=True)
    rebuilt_at = models.DateTimeField(verbose_name=_("rebuilt at"), null=True, blank=True)

    class Meta:
        verbose_name = _("capacity rollup state")
        verbose_name_plural = _("capacity rollup states")

    def __str__(self) -> str:
        return gettext("Capacity rollup %(start)s – %(end)s") % {"start": self.covered_from,
                                                                 "end": self.covered_to}


class CapacityStaleDay(models.Model):
    """The opening day of a ticket whose time entries changed or that was deleted (what the
    sync cannot find by `updated_at`): recomputed, and removed, by the next sync."""

    day = models.DateField(verbose_name=_("day"), unique=True)

    class Meta:
        verbose_name = _("capacity stale day")
        verbose_name_plural = _("capacity stale days")

    def __str__(self) -> str:
        return gettext("stale %(when)s") % {"when": self.day}

"""The hourly rollup behind the manager dashboard, and what it covers."""
from __future__ import annotations

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class MetricsHour(models.Model):
    """Hourly rollup, per team, of the additive figures of the manager dashboard.

    Written only by `reporting.rollups` (Celery every five minutes for recently touched hours,
    and a nightly rebuild); read by the dashboard so that 90 days cost ~2,000 rows per team
    instead of ~500,000 tickets. Every column is a count or a sum, so any range of hours
    and any set of teams add up to the same figure the live formulas give.
    """

    hour = models.DateTimeField(verbose_name=_("hour"), help_text=_("Start of the UTC hour."))
    # 0 = tickets without a team. A plain integer: a deleted team keeps its history.
    team_id = models.PositiveIntegerField(verbose_name=_("team id"), default=0)
    # Tickets created in this hour (first response, escalation rate, weekly arrivals).
    created = models.PositiveIntegerField(verbose_name=_("created"), default=0)
    responded = models.PositiveIntegerField(verbose_name=_("responded"), default=0)
    frt_seconds = models.BigIntegerField(verbose_name=_("frt seconds"), default=0)
    escalated = models.PositiveIntegerField(verbose_name=_("escalated"), default=0)
    # Tickets resolved in this hour (time to resolution, FCR, reopen, handle time).
    resolved = models.PositiveIntegerField(verbose_name=_("resolved"), default=0)
    ttr_seconds = models.BigIntegerField(verbose_name=_("ttr seconds"), default=0)
    fcr = models.PositiveIntegerField(verbose_name=_("fcr"), default=0)
    reopened = models.PositiveIntegerField(verbose_name=_("reopened"), default=0)
    tracked = models.PositiveIntegerField(verbose_name=_("tracked"), default=0)
    handle_minutes = models.BigIntegerField(verbose_name=_("handle minutes"), default=0)
    # Survey responses received in this hour, credited to the survey's team.
    responses = models.PositiveIntegerField(verbose_name=_("responses"), default=0)
    satisfied = models.PositiveIntegerField(verbose_name=_("satisfied"), default=0)
    nps_responses = models.PositiveIntegerField(verbose_name=_("nps responses"), default=0)
    promoters = models.PositiveIntegerField(verbose_name=_("promoters"), default=0)
    detractors = models.PositiveIntegerField(verbose_name=_("detractors"), default=0)
    # First-response SLA clocks started in this hour and completed (met or breached).
    sla_met = models.PositiveIntegerField(verbose_name=_("sla met"), default=0)
    sla_breached = models.PositiveIntegerField(verbose_name=_("sla breached"), default=0)
    # Backlog at the start of this hour (same reconstruction as metrics.backlog_at).
    backlog = models.PositiveIntegerField(verbose_name=_("backlog"), default=0)
    refreshed_at = models.DateTimeField(verbose_name=_("refreshed at"))

    class Meta:
        verbose_name = _("metrics hour")
        verbose_name_plural = _("metrics hours")
        constraints = [
            models.UniqueConstraint(fields=["hour", "team_id"], name="metrics_hour_team"),
        ]
        # Moved from tickets (issue 26) without copying data: the table keeps its name.
        db_table = "tickets_metricshour"

    def __str__(self) -> str:
        return gettext("%(hour)s team %(team)s") % {"hour": f"{self.hour:%Y-%m-%d %H:00}",
                                                     "team": self.team_id}


class MetricsRollupState(models.Model):
    """Singleton: which hours the rollup holds, and up to when changes were folded in."""

    covered_from = models.DateTimeField(verbose_name=_("covered from"), null=True, blank=True)
    # Hours before this one are in MetricsHour; later ones are computed live.
    covered_to = models.DateTimeField(verbose_name=_("covered to"), null=True, blank=True)
    # Changes (ticket updates, surveys, clocks, time entries) up to this moment are in.
    synced_at = models.DateTimeField(verbose_name=_("synced at"), null=True, blank=True)
    rebuilt_at = models.DateTimeField(verbose_name=_("rebuilt at"), null=True, blank=True)

    class Meta:
        verbose_name = _("metrics rollup state")
        verbose_name_plural = _("metrics rollup states")
        db_table = "tickets_metricsrollupstate"

    def __str__(self) -> str:
        return gettext("Metrics rollup %(start)s – %(end)s") % {"start": self.covered_from,
                                                                "end": self.covered_to}


class AgentMetricsHour(models.Model):
    """Hourly rollup per team, agent and priority of the team lead's and the agent's figures.

    Written with `MetricsHour` by the same jobs (`reporting.rollups.refresh`: the sync every
    five minutes, the nightly rebuild, `manage.py rebuild_metrics`, the clock-repair hook);
    the per-team rows of `MetricsHour` are these rows summed. Every column is a count or a
    sum, so any range of hours and any set of teams, agents and priorities add up to the
    figures the live formulas of `reporting.metrics` give (tests hold them equal).

    Keys: for ticket figures, the ticket's team, assignee and priority now (0 = none); for
    survey figures, the survey's own team and agent (as the live formulas credit them) and
    the ticket's priority.
    """

    hour = models.DateTimeField(verbose_name=_("hour"), help_text=_("Start of the UTC hour."))
    team_id = models.PositiveIntegerField(verbose_name=_("team id"), default=0)
    agent_id = models.PositiveIntegerField(verbose_name=_("agent id"), default=0)
    priority = models.PositiveSmallIntegerField(verbose_name=_("priority"), default=0)
    # Tickets created in this hour; `open` = of those, open now (refreshed with the hour).
    created = models.PositiveIntegerField(verbose_name=_("created"), default=0)
    open = models.PositiveIntegerField(verbose_name=_("open"), default=0)
    responded = models.PositiveIntegerField(verbose_name=_("responded"), default=0)
    frt_seconds = models.BigIntegerField(verbose_name=_("frt seconds"), default=0)
    escalated = models.PositiveIntegerField(verbose_name=_("escalated"), default=0)
    # Tickets resolved in this hour.
    resolved = models.PositiveIntegerField(verbose_name=_("resolved"), default=0)
    ttr_seconds = models.BigIntegerField(verbose_name=_("ttr seconds"), default=0)
    fcr = models.PositiveIntegerField(verbose_name=_("fcr"), default=0)
    reopened = models.PositiveIntegerField(verbose_name=_("reopened"), default=0)
    tracked = models.PositiveIntegerField(verbose_name=_("tracked"), default=0)
    handle_minutes = models.BigIntegerField(verbose_name=_("handle minutes"), default=0)
    # Survey responses received in this hour.
    responses = models.PositiveIntegerField(verbose_name=_("responses"), default=0)
    satisfied = models.PositiveIntegerField(verbose_name=_("satisfied"), default=0)
    nps_responses = models.PositiveIntegerField(verbose_name=_("nps responses"), default=0)
    promoters = models.PositiveIntegerField(verbose_name=_("promoters"), default=0)
    detractors = models.PositiveIntegerField(verbose_name=_("detractors"), default=0)
    # Answered surveys credited to another team or agent than their ticket's now: the one
    # case where a viewer who does not see every ticket may see fewer than the rows hold.
    responses_elsewhere = models.PositiveIntegerField(
        verbose_name=_("responses elsewhere"), default=0,
    )
    # First-response SLA clocks started in this hour and completed.
    sla_met = models.PositiveIntegerField(verbose_name=_("sla met"), default=0)
    sla_breached = models.PositiveIntegerField(verbose_name=_("sla breached"), default=0)
    refreshed_at = models.DateTimeField(verbose_name=_("refreshed at"))

    class Meta:
        verbose_name = _("agent metrics hour")
        verbose_name_plural = _("agent metrics hours")
        constraints = [
            models.UniqueConstraint(fields=["hour", "team_id", "agent_id", "priority"],
                                    name="agent_metrics_hour_key"),
        ]
        indexes = [
            models.Index(fields=["team_id", "hour"], name="agent_metrics_team_hour"),
            models.Index(fields=["agent_id", "hour"], name="agent_metrics_agent_hour"),
        ]

    def __str__(self) -> str:
        return gettext("%(hour)s team %(team)s agent %(agent)s") % {
            "hour": f"{self.hour:%Y-%m-%d %H:00}", "team": self.team_id, "agent": self.agent_id}


class MetricsStaleHour(models.Model):
    """An hour whose rollup rows a change made stale that `sync` cannot find by itself (a
    time entry edited or deleted, a reply deleted): folded in, and removed, by the next
    sync."""

    hour = models.DateTimeField(verbose_name=_("hour"), unique=True)
    marked_at = models.DateTimeField(verbose_name=_("marked at"))

    class Meta:
        verbose_name = _("metrics stale hour")
        verbose_name_plural = _("metrics stale hours")

    def __str__(self) -> str:
        return gettext("stale %(when)s") % {"when": f"{self.hour:%Y-%m-%d %H:00}"}


class DurationDay(models.Model):
    """Per UTC day, metric and team, a histogram of durations: what the manager dashboard's
    medians are read from (`reporting.durations`).

    One row per coarse bucket (the hour below a day, 23 + whole days above) holding its
    total and its fine counts (per minute below a day, per hour above), so a median reads
    the totals first and then one bucket's fine counts. Written by `rollups.refresh` for
    the days of the hours it recomputes.
    """

    class Kind(models.TextChoices):
        FIRST_RESPONSE = "frt", _("first response time (by creation day)")
        RESOLUTION = "ttr", _("time to resolution (by resolution day)")

    day = models.DateField(verbose_name=_("day"),
                           help_text=_("The UTC day the durations are counted on."))
    metric = models.CharField(verbose_name=_("metric"), max_length=3, choices=Kind.choices)
    # 0 = tickets without a team. A plain integer, like MetricsHour: history outlives a team.
    team_id = models.PositiveIntegerField(verbose_name=_("team id"), default=0)
    coarse = models.PositiveIntegerField(verbose_name=_("coarse"))
    n = models.PositiveIntegerField(verbose_name=_("n"))
    # Counts per minute (coarse < 24) or per hour of the day (coarse >= 24), trailing
    # zeros dropped.
    fine = models.JSONField(verbose_name=_("fine"), default=list)

    class Meta:
        verbose_name = _("duration day")
        verbose_name_plural = _("duration days")
        constraints = [
            models.UniqueConstraint(fields=["metric", "day", "team_id", "coarse"],
                                    name="duration_day_key"),
        ]
        indexes = [
            models.Index(fields=["day"], name="duration_day_day"),
            # The first step of a median (totals per coarse bucket): an index-only scan.
            models.Index(fields=["metric", "day"], include=["team_id", "coarse", "n"],
                         name="duration_day_totals"),
        ]

    def __str__(self) -> str:
        return gettext("%(day)s %(metric)s team %(team)s bucket %(bucket)s") % {
            "day": self.day, "metric": self.get_metric_display(), "team": self.team_id,
            "bucket": self.coarse}

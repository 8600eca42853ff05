"""The hourly rollup behind the manager dashboard, and what it covers."""
from __future__ import annotations

from django.db import models


class MetricsHour(models.Model):
    """Hourly rollup, per team, of the additive figures of the manager dashboard.

    Written only by `reporting.rollups` (Celery every five minutes for recently touched hours,
    and a nightly rebuild); read by the dashboard so that 90 days cost ~2,000 rows per team
    instead of ~500,000 tickets. Every column is a count or a sum, so any range of hours
    and any set of teams add up to the same figure the live formulas give.
    """

    hour = models.DateTimeField(help_text="Start of the UTC hour.")
    # 0 = tickets without a team. A plain integer: a deleted team keeps its history.
    team_id = models.PositiveIntegerField(default=0)
    # Tickets created in this hour (first response, escalation rate, weekly arrivals).
    created = models.PositiveIntegerField(default=0)
    responded = models.PositiveIntegerField(default=0)
    frt_seconds = models.BigIntegerField(default=0)
    escalated = models.PositiveIntegerField(default=0)
    # Tickets resolved in this hour (time to resolution, FCR, reopen, handle time).
    resolved = models.PositiveIntegerField(default=0)
    ttr_seconds = models.BigIntegerField(default=0)
    fcr = models.PositiveIntegerField(default=0)
    reopened = models.PositiveIntegerField(default=0)
    tracked = models.PositiveIntegerField(default=0)
    handle_minutes = models.BigIntegerField(default=0)
    # Survey responses received in this hour, credited to the survey's team.
    responses = models.PositiveIntegerField(default=0)
    satisfied = models.PositiveIntegerField(default=0)
    nps_responses = models.PositiveIntegerField(default=0)
    promoters = models.PositiveIntegerField(default=0)
    detractors = models.PositiveIntegerField(default=0)
    # First-response SLA clocks started in this hour and completed (met or breached).
    sla_met = models.PositiveIntegerField(default=0)
    sla_breached = models.PositiveIntegerField(default=0)
    # Backlog at the start of this hour (same reconstruction as metrics.backlog_at).
    backlog = models.PositiveIntegerField(default=0)
    refreshed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["hour", "team_id"], name="metrics_hour_team"),
        ]
        # Moved from tickets (issue 26) without copying data: the table keeps its name.
        db_table = "tickets_metricshour"

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H:00} team {self.team_id}"


class MetricsRollupState(models.Model):
    """Singleton: which hours the rollup holds, and up to when changes were folded in."""

    covered_from = models.DateTimeField(null=True, blank=True)
    # Hours before this one are in MetricsHour; later ones are computed live.
    covered_to = models.DateTimeField(null=True, blank=True)
    # Changes (ticket updates, surveys, clocks, time entries) up to this moment are in.
    synced_at = models.DateTimeField(null=True, blank=True)
    rebuilt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "tickets_metricsrollupstate"

    def __str__(self) -> str:
        return f"Metrics rollup {self.covered_from} – {self.covered_to}"

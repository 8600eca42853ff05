"""Forecasts and capacity: arrival history, stored forecasts and their accuracy, handle time,
the per-interval staffing plan (required vs scheduled agents) and the monthly staffing table.

Reads aggregate in SQL (one ``GROUP BY`` per figure, never a query per row); the math lives in
the pure modules ``workforce.forecast`` and ``workforce.erlang``.
"""

from __future__ import annotations

import calendar
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db import transaction
from django.db.models import (
    Avg,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
)
from django.utils import formats, timezone
from django.utils.translation import gettext, gettext_noop

from helpdesk.models import Membership, Team, TeamTier
from tickets.models import Channel, Priority, Ticket, TimeEntry

from . import erlang, rollup
from . import forecast as fc
from .models import ForecastPoint, ForecastRun, Hire, ScheduledShift, TeamCapacity

HOUR = timedelta(hours=1)
INTERVAL = timedelta(minutes=30)
INTERVAL_SECONDS = 1800
INTERVALS_PER_DAY = 48
INTERVALS_PER_WEEK = 7 * INTERVALS_PER_DAY

#: Queued, real-time channels: staffed with Erlang C (service level within a target).
QUEUED_CHANNELS = (Channel.CHAT.value, Channel.PHONE.value)
#: Deferred channels: staffed with the FTE workload model.
DEFERRED_CHANNELS = (Channel.EMAIL.value, Channel.WEB.value, Channel.API.value)

#: Default utilisation target per tier when a team has no ``TeamCapacity`` row.
DEFAULT_UTILIZATION = {
    TeamTier.L1: 0.70,
    TeamTier.L2: 0.65,
    TeamTier.L2_ENTERPRISE: 0.55,
    TeamTier.L3: 0.65,
}
DEFAULT_SHRINKAGE = 0.30

#: Used when a team has no resolved ticket to measure handle time from.
DEFAULT_HANDLE_MINUTES = 15.0
HANDLE_TIME_SAMPLE = 5000
HANDLE_TIME_SOURCE = gettext_noop("elapsed time, not tracked time")
TRACKED_SOURCE = gettext_noop("tracked time (minutes logged on the tickets)")

RED_BELOW = 0.5
AMBER_BELOW = 1.0


# --------------------------------------------------------------------------- history


def _floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _team_id(team: Team | int | None) -> int | None:
    return team.pk if isinstance(team, Team) else team


def _channels(channel: str | Iterable[str] | None) -> list[str] | None:
    if not channel:
        return None
    return [channel] if isinstance(channel, str) else list(channel)


def hourly_arrivals(
    *,
    team: Team | int | None = None,
    channel: str | Iterable[str] | None = None,
    start: datetime,
    end: datetime,
) -> list[float]:
    """Tickets created per hour in ``[start, end)``, dense (hours without tickets count 0).

    From the rollup (``workforce.rollup``: the stored days from ``ArrivalHour``, the rest
    live). ``start`` is floored to its hour; ``channel`` may be one channel or several.
    """
    start = _floor_hour(start)
    hours = max(0, math.ceil((end - start) / HOUR))
    rows = rollup.arrivals(start, end, team=_team_id(team), channels=_channels(channel))
    return fc.densify(((hour, n) for hour, _group, n in rows), start, hours)


def hourly_arrivals_by_group(
    *, team: Team | int | None, start: datetime, end: datetime
) -> tuple[list[float], list[float]]:
    """(queued, deferred) hourly arrivals, from the rollup grouped by hour and channel."""
    start = _floor_hour(start)
    hours = max(0, math.ceil((end - start) / HOUR))
    queued, deferred = [], []
    for hour, is_queued, n in rollup.arrivals(start, end, team=_team_id(team),
                                              queued=QUEUED_CHANNELS):
        (queued if is_queued else deferred).append((hour, n))
    return fc.densify(queued, start, hours), fc.densify(deferred, start, hours)


# --------------------------------------------------------------------------- forecasts


@transaction.atomic
def make_forecast(
    *,
    team: Team | None,
    channel: str = "",
    method: str,
    starts_at: datetime,
    hours: int = fc.HOURS_PER_WEEK,
    history_weeks: int = 8,
) -> ForecastRun:
    """Forecast ``hours`` from ``starts_at`` (floored to the hour) and store run and points."""
    if method not in ForecastRun.Method.values:
        raise ValueError(f"unknown forecast method {method!r}")
    starts_at = _floor_hour(starts_at)
    history_start = starts_at - timedelta(weeks=history_weeks)
    history = hourly_arrivals(team=team, channel=channel or None,
                              start=history_start, end=starts_at)
    expected = fc.forecast(history, history_start, hours, method)
    run = ForecastRun.objects.create(
        team=team, channel=channel, method=method, created_at=timezone.now(),
        starts_at=starts_at, hours=hours, history_weeks=history_weeks,
    )
    ForecastPoint.objects.bulk_create(
        ForecastPoint(run=run, hour=starts_at + i * HOUR, expected=value)
        for i, value in enumerate(expected)
    )
    return run


def forecast_accuracy(run: ForecastRun) -> float | None:
    """MAPE of a stored forecast against the tickets that actually arrived (hours so far).

    Only the hours that have already ended are compared; hours with no actual arrivals are left
    out (see ``workforce.forecast.mape``). ``None`` when nothing can be compared yet.
    """
    now = timezone.now()
    end = min(run.starts_at + run.hours * HOUR, _floor_hour(now))
    if end <= run.starts_at:
        return None
    actual = hourly_arrivals(team=run.team_id, channel=run.channel or None,
                             start=run.starts_at, end=end)
    points = run.points.filter(hour__lt=end).values_list("hour", "expected")
    predicted = fc.densify(points, run.starts_at, len(actual))
    return fc.mape(actual, predicted)


def compare_methods(history: Sequence[float], start: datetime, weeks: int = 4) -> list[dict]:
    """Backtest MAPE of every method on the same history, best first (``None`` last)."""
    rows = [
        {"method": m, "label": ForecastRun.Method(m).label,
         "mape": fc.backtest(history, start, m, weeks)}
        for m in fc.METHODS
    ]
    rows.sort(key=lambda r: (r["mape"] is None, r["mape"] or 0.0))
    return rows


# --------------------------------------------------------------------------- handle time


@dataclass(frozen=True)
class HandleTime:
    minutes: float
    sample_size: int
    statistic: str
    #: Tickets measured by their logged time (`tickets.timetracking`); the others of the
    #: sample by elapsed time, resolved minus created: an upper bound that includes waiting.
    tracked: int = 0

    @property
    def source(self) -> str:
        return source_label(self.tracked, self.sample_size)


def source_label(tracked: int, total: int) -> str:
    """Says which handle time a figure rests on: tracked where time was logged, elapsed
    time (the labelled fallback) for the tickets without time entries."""
    if total and tracked >= total:
        return gettext(TRACKED_SOURCE)
    if not tracked:
        return gettext(HANDLE_TIME_SOURCE)
    return gettext("tracked time for %(tracked)s of %(total)s tickets; elapsed time, not tracked "
                   "time, for the %(rest)s without time entries") % {
        "tracked": formats.number_format(tracked, force_grouping=True),
        "total": formats.number_format(total, force_grouping=True),
        "rest": formats.number_format(total - tracked, force_grouping=True)}


def _tracked_minutes() -> Subquery:
    """Minutes logged on the ticket (None without time entries)."""
    return Subquery(
        TimeEntry.objects.filter(ticket_id=OuterRef("pk"), minutes__isnull=False)
        .order_by().values("ticket_id").annotate(total=Sum("minutes")).values("total")[:1])


def handle_minutes(
    team: Team | int | None,
    priority: int | None = None,
    *,
    statistic: str = "median",
    since: datetime | None = None,
) -> HandleTime:
    """Handle time in minutes of resolved tickets: median (default) or mean.

    A ticket's handle time is the time logged on it (`tickets.timetracking`) wherever it
    has time entries; only tickets without any fall back to the elapsed time
    ``resolved_at − created_at`` (business-hours agnostic, waiting included), and
    ``HandleTime.source`` says which. The median uses the most recent
    ``HANDLE_TIME_SAMPLE`` resolved tickets (last 90 days by default); the mean is one SQL
    aggregate. ``DEFAULT_HANDLE_MINUTES`` when there is nothing to measure.
    """
    if statistic not in ("median", "mean"):
        raise ValueError("statistic must be 'median' or 'mean'")
    since = since or timezone.now() - timedelta(days=90)
    qs = Ticket.objects.filter(resolved_at__isnull=False, resolved_at__gte=since)
    if team is not None:
        qs = qs.filter(team=team)
    if priority is not None:
        qs = qs.filter(priority=priority)
    if statistic == "mean":
        has_time = Exists(TimeEntry.objects.filter(ticket_id=OuterRef("pk"),
                                                   minutes__isnull=False))
        agg = qs.aggregate(
            n=Count("id"), tracked_n=Count("id", filter=Q(has_time)),
            elapsed=Avg(_elapsed(), filter=~Q(has_time)))
        tracked_total = (TimeEntry.objects.filter(ticket__in=qs, minutes__isnull=False)
                         .aggregate(total=Sum("minutes"))["total"] or 0)
        n, tracked_n = agg["n"], agg["tracked_n"]
        if not n:
            return HandleTime(DEFAULT_HANDLE_MINUTES, 0, statistic)
        elapsed_n = n - tracked_n
        elapsed = _minutes(agg["elapsed"]) if agg["elapsed"] is not None else 0.0
        mean = (tracked_total + elapsed * elapsed_n) / n
        return HandleTime(mean, n, statistic, tracked=tracked_n)
    # The elapsed time comes from the database: one value a row to read, not two datetimes.
    rows = (qs.annotate(tracked=_tracked_minutes(), elapsed=_elapsed()).order_by("-resolved_at")
            .values_list("elapsed", "tracked")[:HANDLE_TIME_SAMPLE])
    values, tracked_n = [], 0
    for elapsed, tracked in rows:
        if tracked is not None:
            values.append(float(tracked))
            tracked_n += 1
        elif (minutes := _minutes(elapsed)) >= 0:
            values.append(minutes)
    if not values:
        return HandleTime(DEFAULT_HANDLE_MINUTES, 0, statistic)
    return HandleTime(statistics.median(values), len(values), statistic, tracked=tracked_n)


def _elapsed() -> ExpressionWrapper:
    return ExpressionWrapper(F("resolved_at") - F("created_at"), output_field=DurationField())


def _minutes(value: timedelta | float | int) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds() / 60
    return float(value) / 60_000_000  # microseconds, as some backends return durations


# --------------------------------------------------------------------------- capacity settings


@dataclass(frozen=True)
class Capacity:
    utilization: float
    shrinkage: float
    service_level: float
    answer_target_seconds: int
    max_occupancy: float
    productive_minutes_per_fte: int
    configured: bool  # False: tier defaults, no TeamCapacity row


def _defaults(tier: str) -> Capacity:
    return Capacity(
        utilization=DEFAULT_UTILIZATION.get(tier, DEFAULT_UTILIZATION[TeamTier.L1]),
        shrinkage=DEFAULT_SHRINKAGE, service_level=0.80, answer_target_seconds=60,
        max_occupancy=0.85, productive_minutes_per_fte=360, configured=False,
    )


def _from_row(row: TeamCapacity) -> Capacity:
    return Capacity(
        utilization=float(row.utilization), shrinkage=float(row.shrinkage),
        service_level=float(row.service_level), answer_target_seconds=row.answer_target_seconds,
        max_occupancy=float(row.max_occupancy),
        productive_minutes_per_fte=row.productive_minutes_per_fte, configured=True,
    )


def capacity_for(team: Team) -> Capacity:
    """The team's ``TeamCapacity`` or, without one, the defaults of its tier
    (utilisation L1 70 %, L2 65 %, L2 enterprise 55 %, L3 65 %; shrinkage 30 %)."""
    row = TeamCapacity.objects.filter(team=team).first()
    return _from_row(row) if row else _defaults(team.tier)


# --------------------------------------------------------------------------- staffing plan


def gap_class(coverage: float | None) -> str:
    """``gap-red`` below 50 % of required, ``gap-amber`` below 100 %, else ``ok``."""
    if coverage is None:
        return "ok"
    if coverage < RED_BELOW:
        return "gap-red"
    if coverage < AMBER_BELOW:
        return "gap-amber"
    return "ok"


@dataclass
class Interval:
    starts_at: datetime
    queued_arrivals: float
    deferred_arrivals: float
    required: float  # agents to schedule (shrinkage included)
    scheduled: float  # heads on shift, net of breaks
    coverage: float | None  # scheduled / required; None when nothing is required
    gap: str

    @property
    def arrivals(self) -> float:
        return self.queued_arrivals + self.deferred_arrivals

    @property
    def required_heads(self) -> int:
        """Whole agents to have on shift: the required figure rounded up (0.4 FTE needs one)."""
        return math.ceil(self.required - 1e-9)


@dataclass
class StaffingPlan:
    team: Team | None
    week_start: datetime
    capacity: Capacity
    handle_minutes: float
    intervals: list[Interval] = field(default_factory=list)

    def days(self) -> list[list[Interval]]:
        """7 rows of 48 half-hours, for the heat map."""
        return [self.intervals[d * INTERVALS_PER_DAY:(d + 1) * INTERVALS_PER_DAY]
                for d in range(len(self.intervals) // INTERVALS_PER_DAY)]


def plan_intervals(
    queued_hourly: Sequence[float],
    deferred_hourly: Sequence[float],
    scheduled: Sequence[float],
    *,
    week_start: datetime,
    capacity: Capacity,
    handle_minutes: float,
) -> list[Interval]:
    """The staffing math, without the database: per 30-minute interval.

    * Each hour's forecast is split evenly over its two half-hours.
    * Queued work (chat, phone): ``erlang.required_agents`` for the team's service level within
      the answer target, occupancy cap and shrinkage.
    * Deferred work (email, web, API): the FTE model ``erlang.required_fte`` applied to the
      interval -- its tickets × handle minutes over the interval's 30 minutes × utilisation --
      then grossed up for shrinkage, ``/ (1 − shrinkage)``. (Deferred work could be smoothed over
      the day; counting it where it arrives is the conservative reading.)
    * required = queued agents + deferred FTE; coverage = scheduled / required.

    Results for identical inputs are cached within the call: a week repeats many values.
    """
    aht = handle_minutes * 60
    cap = capacity
    erlang_cache: dict[float, int] = {}
    out = []
    for i in range(len(scheduled)):
        q = queued_hourly[i // 2] / 2
        d = deferred_hourly[i // 2] / 2
        if q not in erlang_cache:
            erlang_cache[q] = erlang.required_agents(
                q, aht, INTERVAL_SECONDS, cap.service_level, cap.answer_target_seconds,
                max_occupancy=cap.max_occupancy, shrinkage=cap.shrinkage,
            ) if aht > 0 else 0
        deferred_fte = erlang.required_fte(d, handle_minutes, 30, cap.utilization)
        required = erlang_cache[q] + deferred_fte / (1 - cap.shrinkage)
        on_shift = scheduled[i]
        coverage = on_shift / required if required > 0 else None
        out.append(Interval(
            starts_at=week_start + i * INTERVAL, queued_arrivals=q, deferred_arrivals=d,
            required=required, scheduled=on_shift, coverage=coverage, gap=gap_class(coverage),
        ))
    return out


def scheduled_agents(
    shifts: Iterable[tuple[datetime, datetime, int]], week_start: datetime,
    intervals: int = INTERVALS_PER_WEEK,
) -> list[float]:
    """Agents on shift per interval, net of breaks (roughly).

    Each shift counts in every interval it overlaps, in proportion to the overlap, times
    ``1 − break_minutes / shift_minutes``: the break is spread evenly over the shift, since when
    exactly it is taken is not recorded.
    """
    # Whole intervals go through a difference array (O(1) per shift); the partly covered
    # intervals at either end are added directly.
    diff = [0.0] * (intervals + 1)
    partial = [0.0] * intervals
    for starts_at, ends_at, break_minutes in shifts:
        # Seconds from the week start: float arithmetic is much cheaper than datetimes.
        lo = (starts_at - week_start).total_seconds() / INTERVAL_SECONDS
        hi = (ends_at - week_start).total_seconds() / INTERVAL_SECONDS
        if hi <= lo or hi <= 0 or lo >= intervals:
            continue
        net = max(0.0, 1 - break_minutes * 60 / ((hi - lo) * INTERVAL_SECONDS))
        lo, hi = max(lo, 0.0), min(hi, float(intervals))
        first_full, last_full = math.ceil(lo), math.floor(hi)  # [first_full, last_full)
        if first_full > last_full:  # inside a single interval
            partial[int(lo)] += (hi - lo) * net
            continue
        diff[first_full] += net
        diff[last_full] -= net
        if lo < first_full:
            partial[first_full - 1] += (first_full - lo) * net
        if hi > last_full:
            partial[last_full] += (hi - last_full) * net
    counts = []
    running = 0.0
    for i in range(intervals):
        running += diff[i]
        counts.append(running + partial[i])
    return counts


def week_forecast(
    team: Team | int | None, week_start: datetime, *, method: str = "seasonal",
    history_weeks: int = 8,
) -> tuple[list[float], list[float]]:
    """Hourly (queued, deferred) forecasts for the week from ``history_weeks`` of history."""
    history_start = week_start - timedelta(weeks=history_weeks)
    queued, deferred = hourly_arrivals_by_group(team=team, start=history_start, end=week_start)
    return (fc.forecast(queued, history_start, fc.HOURS_PER_WEEK, method),
            fc.forecast(deferred, history_start, fc.HOURS_PER_WEEK, method))


def staffing_plan(
    team: Team,
    week_start: datetime,
    *,
    method: str = "seasonal",
    handle: float | None = None,
    forecast: tuple[Sequence[float], Sequence[float]] | None = None,
) -> StaffingPlan:
    """Required vs scheduled agents per 30-minute interval of the week from ``week_start``.

    ``forecast`` -- hourly (queued, deferred) arrivals -- defaults to ``week_forecast``;
    ``handle`` (minutes) defaults to the team's median elapsed handle time (the fallback,
    see ``handle_minutes``). Three queries: arrivals history, shifts, capacity.
    """
    week_start = _floor_hour(week_start)
    week_end = week_start + timedelta(weeks=1)
    capacity = capacity_for(team)
    if handle is None:
        handle = handle_minutes(team).minutes
    if forecast is None:
        forecast = week_forecast(team, week_start, method=method)
    shifts = ScheduledShift.objects.filter(
        team=team, starts_at__lt=week_end, ends_at__gt=week_start,
    ).values_list("starts_at", "ends_at", "break_minutes")
    plan = StaffingPlan(team=team, week_start=week_start, capacity=capacity,
                        handle_minutes=handle)
    plan.intervals = plan_intervals(
        forecast[0], forecast[1], scheduled_agents(shifts, week_start),
        week_start=week_start, capacity=capacity, handle_minutes=handle,
    )
    return plan


# --------------------------------------------------------------------------- monthly staffing

#: Ramp model for new hires, as the share of a full FTE they count for by week since start.
#: Our reading of "0/0/25/50/75/100 % over the first 8 weeks": the two leading zeros are weeks 1
#: and 2 (induction, no queue work), then each further figure holds for two weeks -- weeks 3–4
#: count 25 %, 5–6 50 %, 7–8 75 % -- and from week 9 on the hire counts 100 %. Before the start
#: date a hire counts 0.
RAMP = ((2, 0.0), (4, 0.25), (6, 0.50), (8, 0.75))


def ramp_factor(started_on: date, on: date) -> float:
    """Share of an FTE a hire who started on ``started_on`` counts for on ``on``."""
    if on < started_on:
        return 0.0
    week = (on - started_on).days // 7 + 1  # the start date is in week 1
    for last_week, share in RAMP:
        if week <= last_week:
            return share
    return 1.0


def mean_ramp(started_on: date, first: date, last: date) -> float:
    """Average ramp factor over the days ``first``..``last`` inclusive."""
    days = (last - first).days + 1
    return sum(ramp_factor(started_on, first + timedelta(days=k)) for k in range(days)) / days


def working_days(first: date, last: date) -> int:
    """Monday–Friday days in ``first``..``last`` inclusive (an FTE works five days a week)."""
    return sum(1 for k in range((last - first).days + 1)
               if (first + timedelta(days=k)).weekday() < 5)


@dataclass
class MonthlyRow:
    team: Team
    capacity: Capacity
    tickets: dict[int, int]  # per priority
    handle_minutes: dict[int, float]  # per priority: mean tracked, elapsed where none
    required: dict[int, float]  # FTE per priority
    members: int
    actual: float  # FTE, ramp applied
    handle_tracked: int = 0  # resolved tickets measured by logged time
    handle_measured: int = 0  # resolved tickets measured at all

    @property
    def handle_source(self) -> str:
        return source_label(self.handle_tracked, self.handle_measured)

    @property
    def required_total(self) -> float:
        return sum(self.required.values())

    @property
    def gap(self) -> float:
        return self.actual - self.required_total

    @property
    def coverage(self) -> float | None:
        total = self.required_total
        return self.actual / total if total > 0 else None

    @property
    def gap_class(self) -> str:
        return gap_class(self.coverage)

    def by_priority(self) -> list[tuple[int, int, float, float]]:
        return [(p, self.tickets.get(p, 0), self.handle_minutes.get(p, 0.0),
                 self.required.get(p, 0.0)) for p in Priority.values]


def monthly_staffing(month: date) -> list[MonthlyRow]:
    """Required vs actual FTE by team (and required by priority) for the month of ``month``.

    required FTE (team, priority) = ``erlang.required_fte`` of the month's tickets per working
    day × mean handle minutes of its resolved tickets (the time logged on them; elapsed time,
    labelled, only for those without time entries), at the team's productive minutes and
    utilisation, grossed up for shrinkage.
    actual FTE = active members of the team, where a member with a ``Hire`` row in that team
    counts the average of the ramp model over the month.

    Five queries whatever the number of teams or tickets: teams + capacities, the rollup's
    coverage, its rows for the month's stored days (``workforce.rollup.handle_stats``:
    ticket counts, logged minutes and elapsed time by team and priority; the days it does
    not hold yet, today, live: two more), member counts, hires.
    """
    first = month.replace(day=1)
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    start = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    days = working_days(first, last)

    teams = list(Team.objects.select_related("capacity").order_by("tier", "name"))
    counts: dict[int, dict[int, int]] = defaultdict(dict)
    handle: dict[int, dict[int, float]] = defaultdict(dict)
    tracked_n: dict[int, int] = defaultdict(int)
    measured_n: dict[int, int] = defaultdict(int)
    for (team_id, priority), row in sorted(rollup.handle_stats(start, end).items()):
        if not team_id or not row["tickets"]:  # tickets without a team are nobody's work
            continue
        counts[team_id][priority] = row["tickets"]
        with_time, elapsed_n = row["tracked"], row["untracked"]
        measured = with_time + elapsed_n
        tracked_n[team_id] += with_time
        measured_n[team_id] += measured
        elapsed_minutes = row["untracked_elapsed_us"] / 60_000_000
        handle[team_id][priority] = ((row["tracked_minutes"] + elapsed_minutes) / measured
                                     if measured else DEFAULT_HANDLE_MINUTES)

    members = dict(
        Membership.objects.filter(user__is_active=True).values("team_id")
        .annotate(n=Count("id")).order_by().values_list("team_id", "n")
    )
    ramp_loss: dict[int, float] = defaultdict(float)
    hires = Hire.objects.filter(
        started_on__lte=last, started_on__gt=first - timedelta(weeks=8),
        agent__memberships__team_id=F("team_id"), agent__is_active=True,
    ).values_list("team_id", "started_on")
    for team_id, started_on in hires:
        ramp_loss[team_id] += 1 - mean_ramp(started_on, first, last)

    rows = []
    for team in teams:
        cap = _from_row(team.capacity) if hasattr(team, "capacity") else _defaults(team.tier)
        required = {}
        for priority, n in counts[team.id].items():
            fte = erlang.required_fte(n / days, handle[team.id][priority],
                                      cap.productive_minutes_per_fte, cap.utilization)
            required[priority] = fte / (1 - cap.shrinkage)
        n_members = members.get(team.id, 0)
        rows.append(MonthlyRow(
            team=team, capacity=cap, tickets=counts[team.id], handle_minutes=handle[team.id],
            required=required, members=n_members,
            actual=max(0.0, n_members - ramp_loss[team.id]),
            handle_tracked=tracked_n[team.id], handle_measured=measured_n[team.id],
        ))
    return rows

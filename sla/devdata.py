"""Generated SLA history (see helpdesk/generators.py): the clocks of every generated ticket.

For each ticket, the first-response and resolution clocks (a second resolution cycle after
a reopen) under the policy `sla.policies` would match, with the tier multipliers, on the
target's business calendar, replaying the ticket's own history: started at creation,
paused while it waited on the customer (and on a third party where the policy says so),
met or breached where its business time crossed the target, each level (50 / 80 / 90 /
100 / 200 % by default) fired where it was crossed, with its `ClockLevelFire` row, and
every step in the clock's audit trail. Open tickets keep running or paused clocks with
their next level ahead, and their queue columns (`sla_due_at`, `sla_level`) are set.

Next-response and periodic-update clocks are not generated: the dashboards read the two
above. The arithmetic is that of `sla/clocks.py` on the pure `BusinessCalendar`.
"""
from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import connections
from django.utils.duration import duration_iso_string

from helpdesk import generators
from helpdesk.generators import Batch, Run, TicketHistory
from tickets.models import Ticket
from tickets.state_machine import Status

from . import rollup
from .calendar import BusinessCalendar
from .models import (
    Calendar,
    Clock,
    ClockDay,
    ClockEvent,
    ClockEventKind,
    ClockLevelFire,
    ClockPause,
    ClockState,
    Level,
    Metric,
    Policy,
    Target,
    TierMultiplier,
)

CLOCK_COLUMNS = (
    "id", "ticket_id", "metric", "cycle", "policy_id", "calendar_id", "target",
    "internal_target", "state", "started_at", "segment_started_at", "business_used",
    "paused_at", "due_at", "internal_due_at", "met_at", "breached_at", "internal_breached_at",
    "completed_at", "exempt_reason", "next_level_at", "next_level_percent", "updated_at",
)
EVENT_COLUMNS = ("clock_id", "ticket_id", "kind", "at", "actor_id", "reason", "data")
PAUSE_COLUMNS = ("clock_id", "ticket_id", "actor_id", "reason", "started_at", "ended_at",
                 "business_time")
FIRE_COLUMNS = ("clock_id", "percent", "scheduled_at", "fired_at")

WAITING_ON_CUSTOMER = Status.WAITING_ON_CUSTOMER.value
# Plain strings for the row writer (COPY adapts str, not every str subclass).
STARTED, PAUSED, RESUMED, BREACHED, LEVEL, STOPPED, MET = (
    str(k.value) for k in (ClockEventKind.STARTED, ClockEventKind.PAUSED,
                           ClockEventKind.RESUMED, ClockEventKind.BREACHED,
                           ClockEventKind.LEVEL, ClockEventKind.STOPPED, ClockEventKind.MET))
RUNNING, IS_PAUSED, IS_MET, IS_BREACHED, EXEMPT = (
    str(k.value) for k in (ClockState.RUNNING, ClockState.PAUSED, ClockState.MET,
                           ClockState.BREACHED, ClockState.EXEMPT))
FIRST_RESPONSE, RESOLUTION = str(Metric.FIRST_RESPONSE.value), str(Metric.RESOLUTION.value)
ZERO = timedelta(0)
_dt = datetime.fromtimestamp


@dataclass
class _Policy:
    id: int
    tiers: frozenset[str]
    priorities: frozenset[int]
    channels: frozenset[str]
    teams: frozenset[int]
    third_party_pauses: bool
    multipliers: bool
    levels: list[tuple[int, str]]  # (percent, colour), ascending
    # (priority, metric) -> (contractual, internal, calendar id)
    targets: dict[tuple[int, str], tuple[timedelta, timedelta, int | None]]

    def matches(self, h: TicketHistory) -> bool:
        return ((not self.tiers or h.tier in self.tiers)
                and (not self.priorities or h.priority in self.priorities)
                and (not self.channels or h.channel in self.channels)
                and (not self.teams or h.team_id in self.teams))


@dataclass
class _State:
    policies: list[_Policy]
    calendars: dict[int | None, BusinessCalendar | _Always]
    factors: dict[str, float]
    now: datetime
    queue: list[tuple[int, datetime | None, str]] = field(default_factory=list)
    now_us: int = 0
    # the same calendars on whole microseconds, over the generated period (see _Table)
    tables: dict[int | None, _Table | _AlwaysUs] = field(default_factory=dict)
    # (policy, priority, metric, tier) -> _Spec, or None without a target
    specs: dict[tuple[int, int, str, str], _Spec | None] = field(default_factory=dict)

    def spec(self, policy: _Policy, priority: int, metric: str, tier: str) -> _Spec | None:
        key = (policy.id, priority, metric, tier)
        if key not in self.specs:
            self.specs[key] = _make_spec(self, policy, priority, metric, tier)
        return self.specs[key]


def prepare(run: Run) -> None:
    calendars: dict[int | None, BusinessCalendar | _Always] = {None: _Always()}
    for calendar in Calendar.objects.using(run.using).prefetch_related("hours", "holidays"):
        calendars[calendar.pk] = (_Always() if calendar.always_open
                                  else calendar.business_calendar())
    levels: dict[int, list[tuple[int, str]]] = {}
    for policy_id, percent, colour in Level.objects.using(run.using).order_by(
            "percent").values_list("policy_id", "percent", "colour"):
        levels.setdefault(policy_id, []).append((percent, colour))
    policies = []
    for p in Policy.objects.using(run.using).filter(is_active=True).prefetch_related(
            "teams", "tags").order_by("order", "id"):
        if p.tags.all():
            continue  # generated tickets carry few tags: tag-bound policies are left out
        targets = {(t.priority, t.metric): (t.contractual, t.internal or t.contractual,
                                            t.calendar_id)
                   for t in Target.objects.using(run.using).filter(policy=p)}
        policies.append(_Policy(
            id=p.pk, tiers=frozenset(p.org_tiers or ()), priorities=frozenset(
                int(x) for x in p.priorities or ()), channels=frozenset(p.channels or ()),
            teams=frozenset(t.pk for t in p.teams.all()),
            third_party_pauses=p.pause_on_third_party, multipliers=p.apply_tier_multipliers,
            levels=levels.get(p.pk, []), targets=targets))
    factors = {tier: float(f) for tier, f in TierMultiplier.objects.using(run.using)
               .values_list("tier", "factor")}
    state = _State(policies=policies, calendars=calendars, factors=factors,
                   now=_dt(run.now, UTC), now_us=_us(run.now))
    lo, hi = _us(run.start - 2 * DAY), _us(run.now + TABLE_DAYS_AHEAD * DAY)
    state.tables = {pk: (_AlwaysUs() if isinstance(cal, _Always) else _Table(cal, lo, hi))
                    for pk, cal in calendars.items()}
    run.state["sla"] = state
    run.log(f"  sla: {len(policies)} policies, {len(calendars) - 1} calendars")


class _Always:
    """A 24/7 calendar: business time is wall-clock time (the same results, faster)."""

    @staticmethod
    def elapsed(start: datetime, end: datetime) -> timedelta:
        return end - start if end > start else ZERO

    @staticmethod
    def add(start: datetime, duration: timedelta) -> datetime:
        return start + duration


DAY = 86400.0
# Due times of open clocks reach this far ahead (a P5 resolution target at 200 %...);
# beyond it the table falls back to the calendar.
TABLE_DAYS_AHEAD = 400
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def _us(t: float) -> int:
    """POSIX seconds as whole microseconds, rounded as `datetime.fromtimestamp` rounds
    them (half to even on the fraction), so the results are those of the datetimes."""
    frac, whole = math.modf(t)
    return int(whole) * 1_000_000 + round(frac * 1e6)


def _at(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _div_round(a: int, b: int) -> int:
    """a / b rounded half to even, as `timedelta / int` rounds."""
    q, r = divmod(a, b)
    r *= 2
    if r > b or (r == b and q % 2 == 1):
        q += 1
    return q


def _iso(us: int) -> str:
    """`django.utils.duration.duration_iso_string` of a non-negative duration in µs."""
    seconds, micro = divmod(us, 1_000_000)
    days, seconds = divmod(seconds, 86400)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    ms = f".{micro:06d}" if micro else ""
    return f"P{days}DT{hours:02d}H{minutes:02d}M{seconds:02d}{ms}S"


class _AlwaysUs:
    """A 24/7 calendar on microseconds."""

    @staticmethod
    def elapsed(start: int, end: int) -> int:
        return end - start if end > start else 0

    @staticmethod
    def add(start: int, duration: int) -> int:
        return start + duration


class _Table:
    """A business calendar's open spans over the generated period, with the business
    time before each: `elapsed` and `add` are two binary searches instead of a walk over
    the days (the same results as `BusinessCalendar`, which answers outside the table)."""

    def __init__(self, cal: BusinessCalendar, lo: int, hi: int) -> None:
        self.cal = cal
        self.lo, self.hi = lo, hi
        first = cal._local_ordinal(_at(lo)) - 1
        last = cal._local_ordinal(_at(hi)) + 1
        starts, ends, before = [], [], []
        total = 0
        for ordinal in range(first, last + 1):
            for s, e in cal._day_spans(ordinal):
                starts.append(s)
                ends.append(e)
                before.append(total)
                total += e - s
        self.starts, self.ends, self.before = starts, ends, before
        self.through = [b + e - s for s, e, b in zip(starts, ends, before, strict=True)]

    def _business(self, t: int) -> int:
        """Business µs from the table's start to `t` (lo <= t <= hi)."""
        i = bisect_right(self.starts, t) - 1
        if i < 0:
            return 0
        return self.before[i] + min(t, self.ends[i]) - self.starts[i]

    def elapsed(self, start: int, end: int) -> int:
        if end <= start:
            return 0
        if start < self.lo or end > self.hi:
            return self.cal.elapsed(_at(start), _at(end)) // _US
        return self._business(end) - self._business(start)

    def add(self, start: int, duration: int) -> int:
        if duration == 0:
            return start
        if self.lo <= start <= self.hi:
            target = self._business(start) + duration
            i = bisect_left(self.through, target)
            if i < len(self.through):
                return self.starts[i] + target - self.before[i]
        return (self.cal.add(_at(start), timedelta(microseconds=duration)) - _EPOCH) // _US


@dataclass(frozen=True)
class _Spec:
    """What every clock of one policy, priority, metric and tier shares."""

    contractual: timedelta
    internal: timedelta
    calendar_id: int | None
    table: _Table | _AlwaysUs
    amounts: tuple[int, ...]  # µs: contractual, internal, then each level's share
    target_iso: str


def _make_spec(state: _State, policy: _Policy, priority: int, metric: str,
               tier: str) -> _Spec | None:
    target = policy.targets.get((priority, metric))
    if target is None:
        return None
    contractual, internal, calendar_id = target
    factor = state.factors.get(tier, 1.0) if policy.multipliers else 1.0
    if factor != 1.0:
        contractual = timedelta(seconds=round(contractual.total_seconds() * factor))
        internal = timedelta(seconds=round(internal.total_seconds() * factor))
    c_us, i_us = contractual // _US, internal // _US
    table = state.tables.get(calendar_id) or state.tables[None]
    iso = duration_iso_string(contractual)
    return _Spec(
        contractual=contractual, internal=internal, calendar_id=calendar_id, table=table,
        amounts=(c_us, i_us, *(_div_round(c_us * p, 100) for p, _ in policy.levels)),
        target_iso=iso)


def _crossings_us(cal: _Table | _AlwaysUs, segments: list[tuple[int, int]],
                  amounts: tuple[int, ...]) -> tuple[int, int, list[int | None]]:
    """`_crossings` on microseconds."""
    used = before_last = 0
    found: list[int | None] = [None] * len(amounts)
    pending = sorted(range(len(amounts)), key=amounts.__getitem__)
    elapsed, add = cal.elapsed, cal.add
    for start, end in segments:
        spent = elapsed(start, end) if end > start else 0
        while pending and amounts[pending[0]] <= used + spent:
            i = pending.pop(0)
            found[i] = add(start, max(0, amounts[i] - used))
        before_last = used
        used += spent
    return used, before_last, found


class _Clocks:
    """The rows of one chunk."""

    def __init__(self, run: Run, state: _State, n: int) -> None:
        self.run = run
        self.state = state
        self.next_id = run.next_ids(Clock, n)
        self.clocks: list[tuple] = []
        self.events: list[tuple] = []
        self.pauses: list[tuple] = []
        self.fires: list[tuple] = []

    def clock(self, h: TicketHistory, policy: _Policy, metric: str, cycle: int,
              start: float, end: float | None, pauses: list[tuple[float, float | None, str]],
              actor_of_pause: int | None, fired_jitter: float) -> tuple[datetime | None, str]:
        """Write one clock; returns (due time, level colour) while it is active. The
        arithmetic runs on whole microseconds (what the calendar does inside), datetimes
        are made for the rows only."""
        spec = self.state.spec(policy, h.priority, metric, h.tier)
        if spec is None:
            return None, ""
        cal = spec.table
        contractual_us, internal_us = spec.amounts[0], spec.amounts[1]
        now_us = self.state.now_us
        now = self.state.now
        started = _us(start)
        finish = _us(end) if end is not None else now_us
        # Running stretches between the pauses that fall inside the clock's life.
        segments: list[tuple[int, int]] = []
        my_pauses: list[tuple[int, int | None, str]] = []
        cursor: int | None = started
        for p_start, p_end, kind in pauses:
            if p_start < start or (end is not None and p_start >= end):
                continue
            ps = _us(p_start)
            pe = _us(p_end) if p_end is not None else None
            if pe is not None and end is not None and p_end > end:
                pe = finish
            segments.append((cursor, ps))
            my_pauses.append((ps, pe, kind))
            cursor = pe
            if cursor is None:
                break
        paused_now = cursor is None
        if not paused_now:
            segments.append((cursor, finish))
        levels = policy.levels
        used, before_last, found = _crossings_us(cal, segments, spec.amounts)
        breached_us, internal_breached_us = found[0], found[1]
        breached_at = _at(breached_us) if breached_us is not None else None
        clock_id = self.next_id
        self.next_id += 1
        ev = self.events.append
        tid = h.id
        target_json = f'{{"cycle": {cycle}, "target": "{spec.target_iso}"}}'
        started_at = _at(started)
        ev((clock_id, tid, STARTED, started_at, None, "ticket created", target_json))
        for ps, pe, kind in my_pauses:
            reason = ("waiting on the customer" if kind == WAITING_ON_CUSTOMER
                      else "waiting on a third party")
            ps_at = _at(ps)
            pe_at = _at(pe) if pe is not None else None
            ev((clock_id, tid, PAUSED, ps_at, actor_of_pause, reason, "{}"))
            kept = timedelta(microseconds=cal.elapsed(ps, pe)) if pe is not None else None
            self.pauses.append((clock_id, tid, actor_of_pause, reason, ps_at, pe_at, kept))
            if pe_at is not None:
                ev((clock_id, tid, RESUMED, pe_at, None, "customer replied", "{}"))
        if breached_at is not None:
            ev((clock_id, tid, BREACHED, breached_at, None, "target reached", target_json))
        top_colour = ""
        next_level: tuple[int, int | None] | None = None
        jitter = timedelta(seconds=fired_jitter)
        for (percent, colour), when in zip(levels, found[2:], strict=True):
            if when is None or when > finish:
                if next_level is None and not paused_now and end is None:
                    next_level = (percent, when)
                continue
            when_at = _at(when)
            self.fires.append((clock_id, percent, when_at, min(when_at + jitter, now)))
            ev((clock_id, tid, LEVEL, when_at, None, f"{percent}% of the target elapsed",
                f'{{"percent": {percent}, "colour": "{colour}"}}'))
            top_colour = colour
        last_start = segments[-1][0] if segments and not paused_now else None
        used_before = before_last if last_start is not None else used
        due_at = internal_due_at = None
        if last_start is not None:
            # Where the target was crossed in the last segment, that is its due time.
            due_us = (breached_us if breached_us is not None and breached_us >= last_start
                      else cal.add(last_start, max(0, contractual_us - used_before)))
            internal_due_us = (
                internal_breached_us if internal_breached_us is not None
                and internal_breached_us >= last_start
                else cal.add(last_start, max(0, internal_us - used_before)))
            due_at, internal_due_at = _at(due_us), _at(internal_due_us)
        met_at = completed_at = None
        segment_started_at = paused_at = None
        exempt_reason = ""
        if end is not None:
            completed_at = _at(finish)
            if metric == FIRST_RESPONSE and h.first_response is None:
                state, exempt_reason = EXEMPT, "stopped: ticket resolved"
            elif breached_us is not None:
                state = IS_BREACHED
                ev((clock_id, tid, STOPPED, completed_at, None,
                    "completed (after breach)", "{}"))
            else:
                state, met_at = IS_MET, completed_at
                ev((clock_id, tid, MET, completed_at, None,
                    "first response" if metric == FIRST_RESPONSE else "resolved",
                    f'{{"business_used": "{_iso(used)}", '
                    f'"target": "{spec.target_iso}"}}'))
            business_used = used
            next_level = None
        elif paused_now:
            state = IS_PAUSED
            paused_at = _at(my_pauses[-1][0])
            business_used = used
        else:
            state = IS_BREACHED if breached_us is not None else RUNNING
            segment_started_at = _at(last_start)
            business_used = used_before
        next_at = next_level[1] if next_level else None
        self.clocks.append((
            clock_id, tid, metric, cycle, policy.id, spec.calendar_id, spec.contractual,
            spec.internal, state, started_at, segment_started_at,
            timedelta(microseconds=business_used), paused_at, due_at, internal_due_at,
            met_at, breached_at,
            _at(internal_breached_us) if internal_breached_us is not None else None,
            completed_at, exempt_reason, _at(next_at) if next_at is not None else None,
            next_level[0] if next_level else None, now,
        ))
        if completed_at is None and state in (RUNNING, IS_BREACHED):
            return due_at, top_colour
        return None, ""


def tickets(run: Run, batch: Batch) -> None:
    state: _State = run.state["sla"]
    rng = run.rng("sla")
    out = _Clocks(run, state, 3 * len(batch.tickets))
    for h in batch.tickets:
        policy = next((p for p in state.policies if p.matches(h)), None)
        if policy is None:
            continue
        pauses = [w for w in h.waits
                  if w[2] == WAITING_ON_CUSTOMER or policy.third_party_pauses]
        actor = h.agents[-1] if h.agents else None
        jitter = 20 + 40 * rng.random()
        due = [out.clock(h, policy, FIRST_RESPONSE, 1, h.created,
                         h.first_response or (h.first_resolved or h.resolved), [], actor,
                         jitter)]
        if h.first_resolved is not None:
            reopened_at = next((m[1] for m in h.messages if m[1] > h.first_resolved),
                               h.first_resolved)
            due.append(out.clock(h, policy, RESOLUTION, 1, h.created, h.first_resolved,
                                 pauses, actor, jitter))
            due.append(out.clock(h, policy, RESOLUTION, 2, reopened_at, h.resolved,
                                 pauses, actor, jitter))
        else:
            due.append(out.clock(h, policy, RESOLUTION, 1, h.created, h.resolved,
                                 pauses, actor, jitter))
        if h.resolved is None:
            active = [d for d in due if d[0] is not None]
            if active:
                when, colour = min(active, key=lambda d: d[0])
                state.queue.append((h.id, when, colour))
            else:
                state.queue.append((h.id, None, ""))
    batch.add(Clock, CLOCK_COLUMNS, out.clocks)
    batch.add(ClockPause, PAUSE_COLUMNS, out.pauses)
    batch.add(ClockEvent, EVENT_COLUMNS, out.events)
    batch.add(ClockLevelFire, FIRE_COLUMNS, out.fires)


def finish(run: Run) -> None:
    """The queue columns of open tickets, as `sla.services.sync_ticket` sets them."""
    state: _State = run.state["sla"]
    rows = [(due, colour, ticket_id) for ticket_id, due, colour in state.queue]
    table = connections[run.using].ops.quote_name(Ticket._meta.db_table)
    with connections[run.using].cursor() as cursor:
        # The table name comes from model metadata; values are parameters.
        cursor.executemany(f"UPDATE {table} SET sla_due_at = %s, sla_level = %s"  # noqa: S608
                           " WHERE id = %s", rows)
    state.queue.clear()
    # The dashboard's daily rollup over the generated period, as the nightly job builds it.
    days = max(1, math.ceil((run.now - run.start) / 86400) + 1)
    written = rollup.rebuild(days, now=datetime.fromtimestamp(run.now, UTC))
    run.count(ClockDay._meta.db_table, written)
    run.log(f"  sla: dashboard rollup of {days} days, {written:,} rows")


generators.register(generators.Generator("sla", order=10, prepare=prepare, tickets=tickets,
                                         finish=finish))

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

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import connections
from django.utils.duration import duration_iso_string

from helpdesk import generators
from helpdesk.generators import Batch, Run, TicketHistory
from tickets.models import Ticket
from tickets.state_machine import Status

from .calendar import BusinessCalendar
from .models import (
    Calendar,
    Clock,
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
    run.state["sla"] = _State(policies=policies, calendars=calendars, factors=factors,
                              now=_dt(run.now, UTC))
    run.log(f"  sla: {len(policies)} policies, {len(calendars) - 1} calendars")


class _Always:
    """A 24/7 calendar: business time is wall-clock time (the same results, faster)."""

    @staticmethod
    def elapsed(start: datetime, end: datetime) -> timedelta:
        return end - start if end > start else ZERO

    @staticmethod
    def add(start: datetime, duration: timedelta) -> datetime:
        return start + duration


def _crossings(cal: BusinessCalendar | _Always, segments: list[tuple[datetime, datetime]],
               amounts: list[timedelta],
               ) -> tuple[timedelta, timedelta, list[datetime | None]]:
    """Business time used over `segments`, the part of it before the last segment, and
    the instant each amount was reached."""
    used = before_last = ZERO
    found: list[datetime | None] = [None] * len(amounts)
    pending = sorted(range(len(amounts)), key=lambda i: amounts[i])
    for start, end in segments:
        spent = cal.elapsed(start, end) if end > start else ZERO
        while pending and amounts[pending[0]] <= used + spent:
            i = pending.pop(0)
            found[i] = cal.add(start, max(ZERO, amounts[i] - used))
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
        """Write one clock; returns (due time, level colour) while it is active."""
        target = policy.targets.get((h.priority, metric))
        if target is None:
            return None, ""
        contractual, internal, calendar_id = target
        factor = self.state.factors.get(h.tier, 1.0) if policy.multipliers else 1.0
        if factor != 1.0:
            contractual = timedelta(seconds=round(contractual.total_seconds() * factor))
            internal = timedelta(seconds=round(internal.total_seconds() * factor))
        cal = self.state.calendars.get(calendar_id) or self.state.calendars[None]
        now = self.state.now
        started = _dt(start, UTC)
        finish = _dt(end, UTC) if end is not None else now
        # Running stretches between the pauses that fall inside the clock's life.
        segments: list[tuple[datetime, datetime]] = []
        my_pauses: list[tuple[datetime, datetime | None, str]] = []
        cursor = started
        for p_start, p_end, _kind in pauses:
            if p_start < start or (end is not None and p_start >= end):
                continue
            ps = _dt(p_start, UTC)
            pe = _dt(p_end, UTC) if p_end is not None else None
            if pe is not None and end is not None and p_end > end:
                pe = finish
            segments.append((cursor, ps))
            my_pauses.append((ps, pe, _kind))
            cursor = pe if pe is not None else None
            if cursor is None:
                break
        paused_now = cursor is None
        if not paused_now:
            segments.append((cursor, finish))
        levels = policy.levels
        amounts = [contractual, internal] + [contractual * p / 100 for p, _ in levels]
        used, before_last, found = _crossings(cal, segments, amounts)
        breached_at, internal_breached_at = found[0], found[1]
        clock_id = self.next_id
        self.next_id += 1
        ev = self.events.append
        target_json = f'{{"cycle": {cycle}, "target": "{duration_iso_string(contractual)}"}}'
        ev((clock_id, h.id, STARTED, started, None, "ticket created", target_json))
        for ps, pe, kind in my_pauses:
            reason = ("waiting on the customer" if kind == WAITING_ON_CUSTOMER
                      else "waiting on a third party")
            ev((clock_id, h.id, PAUSED, ps, actor_of_pause, reason, "{}"))
            kept = cal.elapsed(ps, pe) if pe is not None else None
            self.pauses.append((clock_id, h.id, actor_of_pause, reason, ps, pe, kept))
            if pe is not None:
                ev((clock_id, h.id, RESUMED, pe, None, "customer replied",
                    "{}"))
        if breached_at is not None:
            ev((clock_id, h.id, BREACHED, breached_at, None, "target reached", target_json))
        top_colour = ""
        next_level: tuple[int, datetime] | None = None
        for (percent, colour), when in zip(levels, found[2:], strict=True):
            if when is None or when > finish:
                if next_level is None and not paused_now and end is None:
                    next_level = (percent, when)
                continue
            fired = when + timedelta(seconds=fired_jitter)
            self.fires.append((clock_id, percent, when, min(fired, now)))
            ev((clock_id, h.id, LEVEL, when, None,
                f"{percent}% of the target elapsed",
                f'{{"percent": {percent}, "colour": "{colour}"}}'))
            top_colour = colour
        last_start = segments[-1][0] if segments and not paused_now else None
        used_before = before_last if last_start else used
        due_at = internal_due_at = None
        if last_start is not None:
            # Where the target was crossed in the last segment, that is its due time.
            due_at = (breached_at if breached_at is not None and breached_at >= last_start
                      else cal.add(last_start, max(ZERO, contractual - used_before)))
            internal_due_at = (
                internal_breached_at if internal_breached_at is not None
                and internal_breached_at >= last_start
                else cal.add(last_start, max(ZERO, internal - used_before)))
        met_at = completed_at = None
        segment_started_at = paused_at = None
        exempt_reason = ""
        if end is not None:
            completed_at = finish
            if metric == FIRST_RESPONSE and h.first_response is None:
                state, exempt_reason = EXEMPT, "stopped: ticket resolved"
            elif breached_at is not None:
                state = IS_BREACHED
                ev((clock_id, h.id, STOPPED, finish, None,
                    "completed (after breach)", "{}"))
            else:
                state, met_at = IS_MET, finish
                ev((clock_id, h.id, MET, finish, None,
                    "first response" if metric == FIRST_RESPONSE else "resolved",
                    f'{{"business_used": "{duration_iso_string(used)}", '
                    f'"target": "{duration_iso_string(contractual)}"}}'))
            business_used = used
            next_level = None
        elif paused_now:
            state = IS_PAUSED
            paused_at = my_pauses[-1][0]
            business_used = used
        else:
            state = IS_BREACHED if breached_at is not None else RUNNING
            segment_started_at = last_start
            business_used = used_before
        self.clocks.append((
            clock_id, h.id, metric, cycle, policy.id, calendar_id, contractual, internal,
            state, started, segment_started_at, business_used, paused_at, due_at,
            internal_due_at, met_at, breached_at, internal_breached_at, completed_at,
            exempt_reason, next_level[1] if next_level else None,
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


generators.register(generators.Generator("sla", order=10, prepare=prepare, tickets=tickets,
                                         finish=finish))

"""The clocks of one ticket at one instant: the transitions every SLA service is made of.

`ClockWork` holds a ticket's locked clock rows for one service call and moves them
(open, pause, resume, complete, exempt, recompute), writing the ClockEvent audit trail;
`sync_ticket` keeps the ticket's denormalised SLA columns in step. Only the modules of
this package use it: everyone else calls the functions `sla.services` exports.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q, Subquery
from django.utils import timezone
from django.utils.duration import duration_iso_string

from helpdesk import config_cache
from helpdesk.bulkload import update_rows
from tickets import events as ticket_events
from tickets.models import EventKind, Ticket, TicketEvent
from tickets.state_machine import Status

from .. import clocks as arith
from ..calendar import BusinessCalendar
from ..models import (
    ACTIVE_STATES,
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
)
from ..policies import ResolvedTarget, match_policy, targets_for

#: Metrics whose clocks start with the ticket (periodic update only with a target).
START_METRICS = (Metric.FIRST_RESPONSE, Metric.RESOLUTION, Metric.PERIODIC_UPDATE)
#: Prefix of the exemption reason of clocks that a re-evaluation left without a target.
NOT_APPLICABLE = "not applicable: "
#: A stretch the ticket waited: (from, until or None if still waiting, reason, actor id).
Wait = tuple[datetime, datetime | None, str, int | None]


def _actor_id(actor: Any) -> int | None:
    if actor is None or isinstance(actor, int):
        return actor
    return actor.pk


def iso_at(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def iso_dur(value: timedelta | None) -> str | None:
    return duration_iso_string(value) if value is not None else None


def _is_active(clock: Clock) -> bool:
    return clock.completed_at is None and clock.state in ACTIVE_STATES


def _pause_reason(status: str, waiting_reason: str, policy: Policy | None) -> str | None:
    """Why a clock under `policy` must not run in `status`; None when it runs."""
    if status == Status.WAITING_ON_CUSTOMER:
        return waiting_reason or "waiting on customer"
    if status == Status.WAITING_ON_THIRD_PARTY and policy is not None \
            and policy.pause_on_third_party:
        return waiting_reason or "waiting on third party"
    return None


def _snapshot(clock: Clock) -> dict[str, Any]:
    return {
        "policy": clock.policy.name if clock.policy_id else None,
        "calendar": clock.calendar.name if clock.calendar_id else "24/7",
        "target": iso_dur(clock.target),
        "internal_target": iso_dur(clock.internal_target),
        "business_used": iso_dur(clock.business_used),
        "due_at": iso_at(clock.due_at),
        "internal_due_at": iso_at(clock.internal_due_at),
    }


#: What the transitions of the event services change (not `recompute`, which moves a
#: clock to other targets and saves it itself), for one UPDATE of the changed clocks.
_CLOCK_FIELDS = [
    "state", "segment_started_at", "business_used", "paused_at", "due_at",
    "internal_due_at", "met_at", "breached_at", "internal_breached_at", "completed_at",
    "exempt_reason", "next_level_at", "next_level_percent", "updated_at",
]


def _lock_clocks(ticket_id: int, *, current: bool = False,
                 ticket: Ticket | None = None) -> list[Clock]:
    """The ticket's clock rows, locked (`current`: see ClockWork)."""
    if ticket is not None:
        return _lock_clocks_of(ticket, current=current)
    # The ticket comes along (unlocked), so a service on a ticket with clocks needs no
    # second query for it, and one without clocks reads nothing else.
    rows = Clock.objects.select_for_update(of=("self",)).filter(ticket_id=ticket_id)
    if current:
        latest = (Clock.objects.filter(ticket_id=ticket_id, metric=Metric.PERIODIC_UPDATE)
                  .order_by("-cycle").values("cycle")[:1])
        rows = rows.filter(Q(completed_at__isnull=True)
                           | Q(metric=Metric.PERIODIC_UPDATE, cycle=Subquery(latest)))
    return list(rows.select_related("calendar", "policy", "ticket", "ticket__organization")
                .order_by("pk"))


_lock_statements: dict[tuple[str, bool], str] = {}


def _lock_statement(current: bool) -> str:
    """SELECT ... FOR UPDATE of a ticket's clock rows (params: the ticket id, and with
    `current` the periodic metric, the ticket id and the periodic metric again)."""
    key = (connection.alias, current)
    if key not in _lock_statements:
        qn = connection.ops.quote_name
        table = qn(Clock._meta.db_table)
        ticket, metric, cycle = (qn(Clock._meta.get_field(name).column)
                                 for name in ("ticket", "metric", "cycle"))
        where = f"{ticket} = %s"
        if current:
            latest = f"SELECT MAX({cycle}) FROM {table} WHERE {ticket} = %s AND {metric} = %s"  # noqa: S608
            done = qn("completed_at")
            where += f" AND ({done} IS NULL OR ({metric} = %s AND {cycle} = ({latest})))"
        columns = ", ".join(qn(f.column) for f in Clock._meta.concrete_fields)
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        _lock_statements[key] = (f"SELECT {columns} FROM {table} "  # noqa: S608 - our names
                                 f"WHERE {where} ORDER BY {qn('id')}{lock}")
    return _lock_statements[key]


def _policies_and_calendars() -> tuple[dict[int, Policy], dict[int, Calendar]]:
    """Every SLA policy and calendar by id, held per process (dropped on any change of
    the SLA configuration: sla.apps); callers must not change them."""
    return config_cache.get("sla.policies_calendars", lambda: (
        {p.pk: p for p in Policy.objects.all()}, {c.pk: c for c in Calendar.objects.all()}))


def _lock_clocks_of(ticket: Ticket, *, current: bool) -> list[Clock]:
    """`_lock_clocks` for a ticket in hand: the clock rows alone, in one statement built
    once per process, each given the ticket, and its policy and calendar from the
    process's copy of the SLA configuration. The ORM's joined SELECT cost more to build
    and to turn into five instances a row than the rest of the reply's SLA reaction
    (issue 21)."""
    params: list[Any] = [ticket.pk]
    if current:
        params += [Metric.PERIODIC_UPDATE, ticket.pk, Metric.PERIODIC_UPDATE]
    clocks = list(Clock.objects.raw(_lock_statement(current), params))
    policies, calendars = _policies_and_calendars() if clocks else ({}, {})
    for clock in clocks:
        Clock.ticket.field.set_cached_value(clock, ticket)
        # One missing from the copy (none should be) is read when it is asked for.
        if (policy := policies.get(clock.policy_id)) is not None:
            Clock.policy.field.set_cached_value(clock, policy)
        if (calendar := calendars.get(clock.calendar_id)) is not None:
            Clock.calendar.field.set_cached_value(clock, calendar)
    return clocks


_NEW_CLOCK_FIELDS = [f for f in Clock._meta.concrete_fields if not f.primary_key]
_CHANGED_CLOCK_FIELDS = [Clock._meta.get_field(name) for name in _CLOCK_FIELDS]
_EVENT_FIELDS = [ClockEvent._meta.get_field(name)
                 for name in ("ticket", "kind", "at", "actor", "reason", "data")]


_statements: dict[tuple[str, int, int, int], str] = {}


def _write_statement(conn: Any, new: int, changed: int, events: int) -> str:
    """The text of `_write_at_once` for so many new clocks, changed clocks and events
    (built once per shape and process)."""
    key = (conn.alias, new, changed, events)
    if key in _statements:
        return _statements[key]
    qn = conn.ops.quote_name
    table = qn(Clock._meta.db_table)
    pk_type = Clock._meta.pk.rel_db_type(conn)
    parts: list[str] = []
    if new:
        columns = ", ".join(qn(f.column) for f in _NEW_CLOCK_FIELDS)
        row = "(" + ", ".join(["%s"] * len(_NEW_CLOCK_FIELDS)) + ")"
        parts.append(f"new_clocks AS (INSERT INTO {table} ({columns}) "  # noqa: S608
                     f"VALUES {', '.join([row] * new)} "
                     f"RETURNING {qn('id')}, {qn('metric')}, {qn('cycle')})")
    if changed:
        types = [pk_type, *(f.cast_db_type(conn) for f in _CHANGED_CLOCK_FIELDS)]
        row = "(" + ", ".join(f"%s::{t}" for t in types) + ")"
        names = ", ".join(["id", *(f"v{i}" for i in range(len(_CHANGED_CLOCK_FIELDS)))])
        assignments = ", ".join(f"{qn(f.column)} = v.v{i}"
                                for i, f in enumerate(_CHANGED_CLOCK_FIELDS))
        parts.append(f"changed_clocks AS (UPDATE {table} SET {assignments} "  # noqa: S608
                     f"FROM (VALUES {', '.join([row] * changed)}) AS v({names}) "
                     f"WHERE {table}.{qn('id')} = v.id)")
    if events:
        metric, cycle = (Clock._meta.get_field(name) for name in ("metric", "cycle"))
        types = [pk_type, metric.cast_db_type(conn), cycle.cast_db_type(conn),
                 *(f.cast_db_type(conn) for f in _EVENT_FIELDS)]
        # Each row ends with its position, so the events keep their order (and ids).
        rows = ", ".join("(" + ", ".join(f"%s::{t}" for t in types) + f", {n})"
                         for n in range(events))
        values = [f"e.v{i}" for i in range(len(_EVENT_FIELDS))]
        names = ", ".join(["clock_id", "metric", "cycle", *(v[2:] for v in values), "ord"])
        found = ("LEFT JOIN new_clocks n ON e.clock_id IS NULL AND n.metric = e.metric "
                 "AND n.cycle = e.cycle" if new else "")
        clock_id = "COALESCE(e.clock_id, n.id)" if new else "e.clock_id"
        columns = ", ".join(qn(f.column) for f in (ClockEvent._meta.get_field("clock"),
                                                   *_EVENT_FIELDS))
        parts.append(f"clock_events AS (INSERT INTO {qn(ClockEvent._meta.db_table)} "  # noqa: S608
                     f"({columns}) SELECT {clock_id}, {', '.join(values)} "
                     f"FROM (VALUES {rows}) AS e({names}) {found} ORDER BY e.ord)")
    final = "SELECT id, metric, cycle FROM new_clocks" if new else "SELECT 1"
    _statements[key] = f"WITH {', '.join(parts)} {final}"
    return _statements[key]


def _write_at_once(changed: list[Clock], new: list[Clock], events: list[ClockEvent]) -> None:
    """PostgreSQL: what a ClockWork buffered (`flush`), in one statement of three
    data-modifying parts: the new clocks (their ids come back), the changed clocks, and
    the clock events, whose new clocks are found by metric and cycle (unique for the
    ticket). An agent reply stops a clock, finishes the periodic cycle and starts the
    next: three statements through the ORM cost more to build than to run, and two round
    trips more (issue 21). Values are prepared as the ORM saves them."""
    conn = transaction.get_connection()  # the connection itself, not the proxy per use
    now = timezone.now()
    for clock in (*new, *changed):
        clock.updated_at = now  # auto_now, which a bulk write does not apply
    params: list[Any] = [f.get_db_prep_save(getattr(c, f.attname), conn)
                         for c in new for f in _NEW_CLOCK_FIELDS]
    for clock in changed:
        params.append(clock.pk)
        params += [f.get_db_prep_save(getattr(clock, f.attname), conn)
                   for f in _CHANGED_CLOCK_FIELDS]
    for event in events:
        clock = event.clock
        params += [clock.pk, clock.metric, clock.cycle]
        params += [f.get_db_prep_save(getattr(event, f.attname), conn) for f in _EVENT_FIELDS]
    with conn.cursor() as cursor:
        cursor.execute(_write_statement(conn, len(new), len(changed), len(events)), params)
        ids = {(m, c): pk for pk, m, c in cursor.fetchall()} if new else {}
    for clock in new:
        clock.pk = ids[(clock.metric, clock.cycle)]
        clock._state.adding, clock._state.db = False, conn.alias
    for event in events:
        event.clock_id = event.clock.pk


class ClockWork:
    """One service call on one ticket's (locked) clocks, at one instant, by one actor."""

    def __init__(self, ticket_id: int, *, at: datetime, actor: Any,
                 ticket: Ticket | None = None, clocks: list[Clock] | None = None,
                 buffered: bool = False, current: bool = False) -> None:
        self.ticket_id = ticket_id
        self.at = at
        self.actor_id = _actor_id(actor)
        self._ticket = ticket
        # `current`: only the clocks that are not finished and the latest periodic-update
        # cycle, enough for a rule that completes running clocks and restarts the
        # periodic cycle (an agent reply). A ticket's finished cycles pile up, one or two
        # per exchange with the customer, and they need not be read for it.
        self.clocks = (_lock_clocks(ticket_id, current=current, ticket=ticket)
                       if clocks is None else clocks)
        self._levels: dict[int | None, list[int]] = {}
        # `buffered` (inside the write's own transaction, where the ticket row is locked
        # or new, so no other handler can start the same clock): new rows are written in
        # bulk at flush() / sync(), without a savepoint each. The caller must flush.
        self._buffered = buffered
        self._new_clocks: list[Clock] = []
        self._changed: list[Clock] = []
        self._new_events: list[ClockEvent] = []
        self._started: set[int] = set()  # id() of the clocks started by this call

    @property
    def ticket(self) -> Ticket:
        if self._ticket is None:
            if self.clocks and self.clocks[0].ticket_id == self.ticket_id \
                    and "ticket" in self.clocks[0]._state.fields_cache:
                self._ticket = self.clocks[0].ticket
            else:
                self._ticket = Ticket.objects.select_related("organization").get(
                    pk=self.ticket_id)
        return self._ticket

    def flush(self) -> None:
        """Write the buffered changed clocks (one UPDATE), the new ones (one INSERT), then
        the clock events (one INSERT); on PostgreSQL all three in one statement."""
        if connection.vendor == "postgresql" and (
                self._changed or self._new_clocks or self._new_events):
            _write_at_once(self._changed, self._new_clocks, self._new_events)
            self._changed, self._new_clocks, self._new_events = [], [], []
            return
        if self._changed:
            now = timezone.now()
            for clock in self._changed:
                clock.updated_at = now  # auto_now, which a bulk write does not apply
            # One UPDATE without bulk_update's CASE per row and field: building that
            # expression cost more than the SQL (issue 21, an agent reply's two clocks).
            update_rows(Clock, _CLOCK_FIELDS,
                        [(c.pk, *(getattr(c, name) for name in _CLOCK_FIELDS))
                         for c in self._changed])
            self._changed = []
        if self._new_clocks:
            Clock.objects.bulk_create(self._new_clocks)
            self._new_clocks = []
        if self._new_events:
            ClockEvent.objects.bulk_create(self._new_events)
            self._new_events = []

    def sync(self) -> None:
        """`sync_ticket` from the clocks in hand (all of the ticket's, locked): the earliest
        active due time and its level colour, written only when they changed."""
        self.flush()
        due_at, colour = self.due_and_colour()
        ticket = self._ticket
        if ticket is not None and ticket.sla_due_at == due_at and ticket.sla_level == colour:
            return
        # Inside the write's own transaction: with the write's own UPDATE of the row.
        if not (self._buffered and ticket_events.write_ticket_later(
                self.ticket_id, sla_due_at=due_at, sla_level=colour)):
            Ticket.objects.filter(pk=self.ticket_id).update(sla_due_at=due_at,
                                                            sla_level=colour)
        if ticket is not None:
            ticket.sla_due_at, ticket.sla_level = due_at, colour

    def due_and_colour(self) -> tuple[datetime | None, str]:
        """The ticket's SLA columns from the clocks in hand: the earliest active due time
        and that clock's level colour."""
        active = [c for c in self.clocks if c.completed_at is None and c.due_at is not None
                  and c.state in (ClockState.RUNNING, ClockState.BREACHED)]
        if not active:
            return None, ""
        clock = min(active, key=lambda c: (c.due_at, c.pk or 0))
        return clock.due_at, self._colour(clock)

    def bind(self, ticket_id: int) -> None:
        """Give the clocks planned for a ticket not inserted yet its id (`plan_clocks`)."""
        self.ticket_id = ticket_id
        for row in (*self._new_clocks, *self._new_events):
            row.ticket_id = ticket_id

    def _colour(self, clock: Clock) -> str:
        """The colour of the highest level fired on the clock ('' if none)."""
        levels = levels_of(clock.policy_id) if clock.policy_id is not None else []
        if not levels or id(clock) in self._started:
            return ""
        if clock.next_level_percent is not None and clock.next_level_percent == levels[0][0]:
            return ""  # levels fire in order: the first one is still ahead
        fired = (ClockLevelFire.objects.filter(clock_id=clock.pk).order_by("-percent")
                 .values_list("percent", flat=True).first())
        below = [lv for lv in levels if fired is not None and lv[0] <= fired]
        return max(below)[1] if below else ""

    def active(self, *metrics: str) -> list[Clock]:
        return [c for c in self.clocks if _is_active(c) and (not metrics or c.metric in metrics)]

    def of_metric(self, metric: str) -> list[Clock]:
        return sorted((c for c in self.clocks if c.metric == metric), key=lambda c: c.cycle)

    def policy(self) -> Policy | None:
        """The policy a new cycle starts under: its active clocks' (every re-evaluation
        moves them all to the policy it matched), else the one that matches the ticket
        now (a reopened ticket: a finished clock may carry a policy it no longer has)."""
        active = [c for c in self.clocks if _is_active(c) and c.policy_id is not None]
        if active:
            return max(active, key=lambda c: (c.started_at, c.pk)).policy
        return match_policy(self.ticket)

    # -- storage (the bulk path overrides these and keeps the rows in memory) ----------

    def save(self, clock: Clock) -> None:
        if self._buffered:
            # A new clock is written as it is at flush(); a changed one with the others.
            if clock.pk is not None and all(c is not clock for c in self._changed):
                self._changed.append(clock)
            return
        clock.save()

    def insert(self, clock: Clock) -> bool:
        """Write a new clock; False when another handler started it concurrently."""
        self._started.add(id(clock))
        if self._buffered:
            self._new_clocks.append(clock)
            return True
        try:
            with transaction.atomic():
                clock.save(force_insert=True)
        except IntegrityError:
            return False
        return True

    def fired_percents(self, clock: Clock) -> Iterable[int]:
        if id(clock) in self._started:
            return ()  # started by this call: nothing fired on it yet
        return ClockLevelFire.objects.filter(clock_id=clock.pk).values_list(
            "percent", flat=True)

    def pause_spans(self, clock: Clock) -> list[tuple[datetime, datetime | None]]:
        """(started_at, ended_at) of the clock's pauses, in order."""
        if clock.pk is None:
            return []
        return list(ClockPause.objects.filter(clock_id=clock.pk).order_by("started_at", "pk")
                    .values_list("started_at", "ended_at"))

    def add_pause(self, clock: Clock, *, at: datetime, reason: str,
                  actor_id: int | None) -> None:
        if clock.pk is None:
            self.flush()
        ClockPause.objects.create(clock=clock, ticket_id=clock.ticket_id,
                                  actor_id=actor_id, reason=reason[:255], started_at=at)

    def end_pause(self, clock: Clock, *, at: datetime, business_time: timedelta) -> None:
        ClockPause.objects.filter(clock_id=clock.pk, ended_at__isnull=True).update(
            ended_at=at, business_time=business_time)

    def status_history(self, until: datetime) -> Iterable[tuple[datetime, str, str,
                                                                int | None]]:
        """(created_at, after, note, actor id) of the ticket's status changes until then."""
        return (TicketEvent.objects.filter(ticket_id=self.ticket_id, kind=EventKind.STATUS,
                                           created_at__lte=until)
                .order_by("created_at", "pk").values_list("created_at", "after", "note",
                                                          "actor_id"))

    def last_agent_update(self) -> datetime | None:
        """The latest public agent message up to self.at (the periodic update cadence)."""
        return (self.ticket.messages.filter(is_public=True, by_agent=True,
                                            created_at__lte=self.at)
                .order_by("-created_at").values_list("created_at", flat=True).first())

    def targets(self, policy: Policy, *, at: datetime) -> dict[str, ResolvedTarget]:
        """The ticket's targets under `policy` at `at` (a batch reads the rows once)."""
        return targets_for(self.ticket, policy, at=at)

    # -- audit -----------------------------------------------------------------------

    def event(self, clock: Clock, kind: str, *, at: datetime | None = None, reason: str = "",
              data: dict[str, Any] | None = None, actor_id: int | None = None) -> None:
        row = ClockEvent(
            clock=clock, ticket_id=clock.ticket_id, kind=kind, at=at or self.at,
            actor_id=actor_id or self.actor_id, reason=reason[:255], data=data or {},
        )
        if self._buffered:
            self._new_events.append(row)
        else:
            row.save()

    # -- levels ----------------------------------------------------------------------

    def level_percents(self, policy_id: int | None) -> list[int]:
        if policy_id is None:
            return []
        if policy_id not in self._levels:
            self._levels[policy_id] = [p for p, _ in levels_of(policy_id)]
        return self._levels[policy_id]

    def refresh_level(self, clock: Clock, cal: BusinessCalendar, *,
                      fired: Iterable[int] | None = None) -> None:
        percents = self.level_percents(clock.policy_id)
        if not arith.fires_levels(clock) or (
                not arith.is_counting(clock)  # paused: only levels its used time passed
                and not any(arith.level_amount(clock.target, p) <= clock.business_used
                            for p in percents)):
            clock.next_level_at = clock.next_level_percent = None
            return
        if fired is None:
            fired = self.fired_percents(clock)
        nxt = arith.next_level(clock, percents, fired, cal=cal)
        clock.next_level_percent, clock.next_level_at = nxt if nxt else (None, None)

    # -- segments ----------------------------------------------------------------------

    def segments(self, clock: Clock) -> list[arith.Segment]:
        """The stretches the clock ran, from its start and its pause rows."""
        segments: list[arith.Segment] = []
        start: datetime | None = clock.started_at
        for paused, ended in self.pause_spans(clock):
            segments.append((start, paused))
            if ended is None:
                return segments
            start = ended
        segments.append((start, clock.completed_at))
        return segments

    def due(self, clock: Clock, cal: BusinessCalendar) -> tuple[datetime | None,
                                                               datetime | None]:
        used_up = min(clock.target, clock.internal_target) <= clock.business_used
        return arith.due_times(clock, cal, segments=self.segments(clock) if used_up else None)

    def reaccount(self, clock: Clock, cal: BusinessCalendar) -> None:
        """Recount business time used (and kept off by pauses) on a new calendar."""
        segments = self.segments(clock)
        closed = segments[:-1] if arith.is_counting(clock) else segments
        clock.business_used = sum(
            (cal.elapsed(s, e) for s, e in closed if e is not None), timedelta(0))
        pauses = list(ClockPause.objects.filter(clock_id=clock.pk, ended_at__isnull=False))
        for pause in pauses:
            pause.business_time = cal.elapsed(pause.started_at, pause.ended_at)
        if pauses:
            ClockPause.objects.bulk_update(pauses, ["business_time"])

    def waits(self, policy: Policy, since: datetime, until: datetime) -> list[Wait]:
        """The stretches of [since, until] the ticket spent in a status that pauses clocks
        under `policy`, read from its status history (the ticket's audit trail)."""
        found: list[Wait] = []
        waiting: tuple[datetime, str, int | None] | None = None
        for at, status, note, actor_id in self.status_history(until):
            at = max(at, since)
            why = _pause_reason(status, note, policy)
            if why is not None and waiting is None:
                waiting = (at, why, actor_id)
            elif why is None and waiting is not None:
                if at > waiting[0]:
                    found.append((waiting[0], at, waiting[1], waiting[2]))
                waiting = None
        if waiting is not None:
            found.append((waiting[0], None, waiting[1], waiting[2]))
        return found

    # -- transitions of one clock -------------------------------------------------------

    def open_clock(self, metric: str, cycle: int, policy: Policy, target: ResolvedTarget, *,
                   started_at: datetime, reason: str = "", settle: bool = True,
                   waits: Iterable[Wait] = ()) -> Clock | None:
        """Start a clock at `started_at`; `waits` (a clock started in the past) replays the
        ticket's waits since then, so it runs only the stretches it would have run."""
        clock = Clock(
            ticket_id=self.ticket_id, metric=metric, cycle=cycle, policy=policy,
            calendar=target.calendar, target=target.contractual,
            internal_target=target.internal, state=ClockState.RUNNING,
            started_at=started_at, segment_started_at=started_at, business_used=timedelta(0),
        )
        cal = target.business
        clock.due_at, clock.internal_due_at = arith.due_times(clock, cal)
        self.refresh_level(clock, cal, fired=())
        if not self.insert(clock):  # started concurrently by another handler
            return None
        self.clocks.append(clock)
        self.event(clock, ClockEventKind.STARTED, at=started_at, reason=reason, data={
            "cycle": cycle, "policy": policy.name, **_snapshot(clock)})
        changed = False
        for paused, resumed, why, actor_id in waits:
            changed |= self.pause(clock, cal, at=paused, reason=why, actor_id=actor_id)
            if resumed is not None:
                changed |= self.resume(clock, cal, at=resumed, reason="status changed")
        if settle:  # bring it up to self.at: paused if the ticket waits, breached if late
            pause_reason = _pause_reason(self.ticket.status, self.ticket.waiting_reason, policy)
            if pause_reason is not None:
                changed |= self.pause(clock, cal, at=max(started_at, self.at),
                                      reason=pause_reason)
            else:
                changed |= self.record_reached(clock)
        if changed:
            self.refresh_level(clock, cal, fired=())
            self.save(clock)
        return clock

    def reached(self, clock: Clock, amount: timedelta, due: datetime | None, at: datetime, *,
                inclusive: bool) -> datetime | None:
        """When the clock's used time reached `amount`, if it had by `at`; else None.

        A counting clock reaches it at its due time (`due`): strictly before `at`, or at
        `at` itself when `inclusive`. A paused clock has reached it if its used time is
        at least `amount`: at the instant its recorded history (the running stretches on
        its calendar) crossed it, which a shortened target can put well before `at`.
        """
        if arith.is_counting(clock):
            if due is not None and (due < at or (inclusive and due == at)):
                return due
            return None
        if clock.state != ClockState.PAUSED or clock.business_used < amount:
            return None
        crossed = arith.usage_instant(arith.calendar_of(clock), self.segments(clock), amount)
        return min(crossed or clock.paused_at or at, at)

    def record_reached(self, clock: Clock, at: datetime | None = None, *,
                       inclusive: bool = False, reason: str = "target passed") -> bool:
        """Record the contractual and internal targets the clock has reached by `at`.

        The contractual one is a breach (`breached_at`, a "breached" event at that
        instant, the state `breached` unless the clock is paused); the internal one sets
        `internal_breached_at`. Both stand once recorded: a later, longer target cannot
        erase them. Completing exactly at the due time is still met; the escalation job,
        which fires at the due time itself, and a pause record them `inclusive`-ly.
        Returns True when it recorded anything.
        """
        at = at or self.at
        if clock.completed_at is not None or clock.state not in ACTIVE_STATES:
            return False
        internal = clock.internal_breached_at is None and self.reached(
            clock, clock.internal_target, clock.internal_due_at, at, inclusive=inclusive)
        if internal:
            clock.internal_breached_at = internal
        breached_at = clock.breached_at is None and self.reached(
            clock, clock.target, clock.due_at, at, inclusive=inclusive)
        if not breached_at:
            return bool(internal)
        clock.breached_at = breached_at
        if clock.state == ClockState.RUNNING:
            clock.state = ClockState.BREACHED
        self.event(clock, ClockEventKind.BREACHED, at=breached_at, reason=reason, data={
            "target": iso_dur(clock.target), "business_used": iso_dur(arith.used_at(
                clock, arith.calendar_of(clock), at)), "detected_at": iso_at(at)})
        return True

    def pause(self, clock: Clock, cal: BusinessCalendar, *, at: datetime | None = None,
              reason: str, actor_id: int | None = None) -> bool:
        at = at or self.at
        actor_id = actor_id or self.actor_id
        if not arith.is_counting(clock) or clock.segment_started_at > at:
            return False
        # Reaching the target at the very instant it stops counting is reaching it.
        self.record_reached(clock, at, inclusive=True)
        arith.pause(clock, cal, at)
        self.refresh_level(clock, cal)  # a level it passed and nobody fired yet
        self.add_pause(clock, at=at, reason=reason, actor_id=actor_id)
        self.event(clock, ClockEventKind.PAUSED, at=at, reason=reason, actor_id=actor_id,
                   data={"business_used": iso_dur(clock.business_used)})
        return True

    def _close_pause(self, clock: Clock, cal: BusinessCalendar, at: datetime) -> timedelta:
        kept_off = cal.elapsed(clock.paused_at, at)
        self.end_pause(clock, at=at, business_time=kept_off)
        return kept_off

    def resume(self, clock: Clock, cal: BusinessCalendar, *, reason: str,
               at: datetime | None = None) -> bool:
        at = at or self.at
        if (clock.state != ClockState.PAUSED or clock.completed_at is not None
                or clock.paused_at is None or clock.paused_at > at):
            return False
        kept_off = self._close_pause(clock, cal, at)
        arith.resume(clock, cal, at)
        clock.due_at, clock.internal_due_at = self.due(clock, cal)
        self.event(clock, ClockEventKind.RESUMED, at=at, reason=reason,
                   data={"business_time_paused": iso_dur(kept_off), "due_at": iso_at(clock.due_at)})
        self.record_reached(clock, at)
        self.refresh_level(clock, cal)
        return True

    def complete(self, clock: Clock, *, met: bool, reason: str,
                 at: datetime | None = None) -> bool:
        """End the clock at `at` (default self.at): met (a response/resolution) or stopped.

        Met or breached follows what the used time reached, never whether the clock has a
        due time: every target the clock had was checked when it was replaced (see
        `recompute`), and a paused clock whose used time reached its target is breached.
        """
        at = at or self.at
        if clock.completed_at is not None or clock.started_at > at:
            return False
        if arith.is_counting(clock) and clock.segment_started_at > at:
            return False
        cal = arith.calendar_of(clock)
        self.record_reached(clock, at)
        if arith.is_counting(clock):
            clock.business_used += cal.elapsed(clock.segment_started_at, at)
        elif clock.paused_at is not None:  # paused: nothing consumed since the pause
            self._close_pause(clock, cal, at)
        internal_met = clock.internal_breached_at is None
        clock.segment_started_at = clock.paused_at = None
        clock.next_level_at = clock.next_level_percent = None
        clock.completed_at = at
        data = {
            "business_used": iso_dur(clock.business_used), "target": iso_dur(clock.target),
            "internal_target": iso_dur(clock.internal_target), "internal_met": internal_met,
        }
        if clock.breached_at is not None:
            clock.state = ClockState.BREACHED
            self.event(clock, ClockEventKind.STOPPED, at=at, reason=f"{reason} (after breach)",
                       data=data)
        elif met:
            clock.state = ClockState.MET
            clock.met_at = at
            self.event(clock, ClockEventKind.MET, at=at, reason=reason, data=data)
        else:
            clock.state = ClockState.EXEMPT
            clock.exempt_reason = f"stopped: {reason}"[:255]
            self.event(clock, ClockEventKind.STOPPED, at=at, reason=reason, data=data)
        self.save(clock)
        return True

    def exempt(self, clock: Clock, *, reason: str) -> bool:
        at = self.at
        if clock.state == ClockState.EXEMPT:
            return False
        previous = clock.state
        cal = arith.calendar_of(clock)
        if arith.is_counting(clock) and clock.segment_started_at <= at:
            clock.business_used += cal.elapsed(clock.segment_started_at, at)
        elif clock.state == ClockState.PAUSED and clock.paused_at is not None:
            self._close_pause(clock, cal, max(at, clock.paused_at))
        clock.state = ClockState.EXEMPT
        clock.exempt_reason = reason[:255]
        clock.completed_at = clock.completed_at or max(at, clock.started_at)
        clock.segment_started_at = clock.paused_at = None
        clock.next_level_at = clock.next_level_percent = None
        self.event(clock, ClockEventKind.EXEMPTED, reason=reason,
                   data={"previous_state": previous, "business_used": iso_dur(clock.business_used)})
        self.save(clock)
        return True

    def recompute(self, clock: Clock, policy: Policy, target: ResolvedTarget, *,
                  reason: str) -> bool:
        """Apply a (possibly) new policy/target to an active clock, from its original start."""
        calendar_id = target.calendar.pk if target.calendar is not None else None
        calendar_changed = clock.calendar_id != calendar_id
        if (clock.policy_id == policy.pk and not calendar_changed
                and clock.target == target.contractual
                and clock.internal_target == target.internal):
            return False
        before = _snapshot(clock)
        self.record_reached(clock)  # what the target it had reached by now stands
        clock.policy = policy
        clock.calendar = target.calendar
        clock.target = target.contractual
        clock.internal_target = target.internal
        cal = target.business
        if calendar_changed:
            self.reaccount(clock, cal)
        clock.due_at, clock.internal_due_at = self.due(clock, cal)
        self.event(clock, ClockEventKind.RECOMPUTED, reason=reason,
                   data={"before": before, "after": _snapshot(clock)})
        # The new target applies from the clock's start: if the recomputed history has
        # crossed it, the clock breached then, running or paused.
        self.record_reached(clock, reason=f"target passed ({reason})")
        self.refresh_level(clock, cal)
        self.save(clock)
        return True

    # -- rules over the ticket's clocks ----------------------------------------------

    def apply_pausing(self, status: str, *, waiting_reason: str) -> None:
        """Pause running clocks the status stops, resume paused ones it lets run."""
        for clock in self.active():
            reason = _pause_reason(status, waiting_reason, clock.policy)
            cal = arith.calendar_of(clock)
            if reason is not None:
                if self.pause(clock, cal, reason=reason):
                    self.save(clock)
            elif clock.state == ClockState.PAUSED and self.resume(
                    clock, cal, reason=f"status: {status}"):
                self.save(clock)

    def restart_periodic(self, *, reason: str) -> None:
        """Complete the current periodic-update cycle and start the next one from now."""
        cycles = self.of_metric(Metric.PERIODIC_UPDATE)
        if not cycles:
            return  # the policy sets no update cadence for this ticket
        latest = cycles[-1]
        if latest.started_at >= self.at:
            return  # already restarted by this event (or a later one)
        if _is_active(latest):
            self.complete(latest, met=True, reason=reason)
        self.start_cycle(Metric.PERIODIC_UPDATE, reason=reason)

    def start_cycle(self, metric: str, *, reason: str) -> Clock | None:
        """Start the next cycle of `metric` at self.at under the ticket's policy."""
        if not self.ticket.is_open:
            return None
        policy = self.policy()
        if policy is None:
            return None
        target = self.targets(policy, at=self.at).get(metric)
        if target is None:
            return None
        cycle = max((c.cycle for c in self.of_metric(metric)), default=0) + 1
        return self.open_clock(metric, cycle, policy, target, started_at=self.at,
                               reason=reason)

    def reopen(self) -> None:
        """A new resolution period (and update cadence) from the reopen instant."""
        resolution = self.of_metric(Metric.RESOLUTION)
        if not resolution or any(_is_active(c) for c in resolution):
            return  # no SLA on this ticket, or already reopened
        if resolution[-1].started_at >= self.at:
            return
        self.start_cycle(Metric.RESOLUTION, reason="ticket reopened")
        periodic = self.of_metric(Metric.PERIODIC_UPDATE)
        if periodic and not any(_is_active(c) for c in periodic) \
                and periodic[-1].started_at < self.at:
            self.start_cycle(Metric.PERIODIC_UPDATE, reason="ticket reopened")

    def backfill(self, policy: Policy,
                 targets_at: Callable[[datetime], dict[str, ResolvedTarget]], *,
                 reason: str) -> None:
        """Start, from the ticket's original start, metrics that never had a clock.

        E.g. no policy matched at creation and one does now, or the new priority has an
        update cadence the old one had not. The ticket's waits since then are replayed
        as pauses. A first response already given completes at once (met or breached at
        its own instant).
        """
        ticket = self.ticket
        if not ticket.is_open:
            return
        reason = "ticket created" if not self.clocks else f"{reason}: new target"
        for metric in START_METRICS:
            if self.of_metric(metric):
                continue
            started_at = ticket.created_at
            if metric == Metric.PERIODIC_UPDATE:
                started_at = self.last_agent_update() or started_at
            started_at = min(started_at, self.at)
            target = targets_at(started_at).get(metric)
            if target is None:
                continue
            responded = ticket.first_response_at if metric == Metric.FIRST_RESPONSE else None
            if responded is not None and not started_at <= responded <= self.at:
                responded = None
            waits = self.waits(policy, started_at, responded or self.at)
            clock = self.open_clock(metric, 1, policy, target, started_at=started_at,
                                    reason=reason, settle=responded is None, waits=waits)
            if clock is not None and responded is not None:
                self.complete(clock, met=True, reason="first public agent reply", at=responded)


# --- ticket sync -----------------------------------------------------------------------

def levels_of(policy_id: int) -> list[tuple[int, str]]:
    """(percent, colour) of the policy's levels (held per process: helpdesk.config_cache)."""
    def load() -> dict[int, list[tuple[int, str]]]:
        found: dict[int, list[tuple[int, str]]] = {}
        for pid, percent, colour in Level.objects.order_by("percent", "pk").values_list(
                "policy_id", "percent", "colour"):
            found.setdefault(pid, []).append((percent, colour))
        return found
    return config_cache.get("sla.levels", load).get(policy_id, [])


def sync_ticket(ticket_id: int) -> None:
    """Write the ticket's earliest active due time and that clock's level colour.

    Active = running or breached and not completed; paused clocks have no due time.
    The colour is that of the highest level fired on that clock ('' if none).
    """
    clock = (
        Clock.objects.filter(ticket_id=ticket_id, completed_at__isnull=True,
                             state__in=[ClockState.RUNNING, ClockState.BREACHED],
                             due_at__isnull=False)
        .order_by("due_at", "pk").only("pk", "due_at", "policy_id").first()
    )
    due_at, colour = None, ""
    if clock is not None:
        due_at = clock.due_at
        fired = (ClockLevelFire.objects.filter(clock_id=clock.pk).order_by("-percent")
                 .values_list("percent", flat=True).first())
        if fired is not None and clock.policy_id is not None:
            below = [lv for lv in levels_of(clock.policy_id) if lv[0] <= fired]
            colour = max(below)[1] if below else ""
    Ticket.objects.filter(pk=ticket_id).update(sla_due_at=due_at, sla_level=colour)



def sync_tickets(ticket_ids: Iterable[int], *, batch_size: int = 500) -> None:
    """`sync_ticket` for many tickets: a few queries and one bulk update per batch."""
    ids = sorted(set(ticket_ids))
    for i in range(0, len(ids), batch_size):
        batch = ids[i:i + batch_size]
        first: dict[int, tuple[int, datetime, int | None]] = {}
        for ticket_id, pk, due_at, policy_id in (
                Clock.objects.filter(ticket_id__in=batch, completed_at__isnull=True,
                                     state__in=[ClockState.RUNNING, ClockState.BREACHED],
                                     due_at__isnull=False)
                .order_by("ticket_id", "due_at", "pk")
                .values_list("ticket_id", "pk", "due_at", "policy_id")):
            first.setdefault(ticket_id, (pk, due_at, policy_id))
        fired: dict[int, int] = {}
        for clock_id, percent in ClockLevelFire.objects.filter(
                clock_id__in=[pk for pk, _, _ in first.values()]).values_list(
                "clock_id", "percent"):
            fired[clock_id] = max(percent, fired.get(clock_id, percent))
        colours: dict[int, list[tuple[int, str]]] = {}
        policy_ids = {policy_id for pk, _, policy_id in first.values() if pk in fired}
        for policy_id, percent, colour in Level.objects.filter(
                policy_id__in=policy_ids).values_list("policy_id", "percent", "colour"):
            colours.setdefault(policy_id, []).append((percent, colour))
        rows = []
        for ticket_id in batch:
            due_at, colour = None, ""
            if ticket_id in first:
                pk, due_at, policy_id = first[ticket_id]
                if pk in fired and policy_id is not None:
                    below = [lv for lv in colours.get(policy_id, []) if lv[0] <= fired[pk]]
                    colour = max(below)[1] if below else ""
            rows.append((ticket_id, due_at, colour))
        # One UPDATE, no CASE; tickets already showing these values are not rewritten.
        update_rows(Ticket, ["sla_due_at", "sla_level"], rows, only_changed=True)

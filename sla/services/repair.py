"""Put right the clocks recorded before a paused clock could breach (`manage.py sla_repair_clocks`).

Until re-targeting a paused clock recorded its breach, a ticket put on waiting,
re-prioritised (or moved to another tier, team or tags) and resolved came out with
clocks "met" or exempt ("stopped: ...") although their business time used had reached
the target. This module finds such clocks from what they recorded, and corrects each
with the same rules as the clock services:

- the last target: a completed clock whose used time reached its target before it
  completed, or a paused clock whose used time has reached it;
- each earlier target: the "recomputed" events keep the target a clock had before and
  after every re-evaluation, so a target reached while it was in force (a running clock
  past its due time, a paused clock whose new target was below its used time) counts
  even if a longer one replaced it.

The breach instant is where the clock's running stretches (its start, its pauses) on
the calendar of that target crossed it. The internal target is checked the same way.
Each corrected clock gets a "breached" event at its breach instant (when it breached)
and a "corrected" event saying what was wrong; clocks exempted on purpose (out of scope,
merged, no target any more) are left alone.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.dateparse import parse_duration

from .. import clocks as arith
from .. import hooks, rollup
from ..calendar import BusinessCalendar
from ..models import Calendar, Clock, ClockEvent, ClockEventKind, ClockState, Metric
from ..policies import business_calendar_of
from .work import ClockWork, iso_at, iso_dur, sync_ticket

__all__ = ["RepairReport", "candidates", "repair_clocks"]

#: Exemptions the clock services make when a ticket is resolved or closed: the only ones
#: that stand for "not needed" rather than "taken out of the SLA on purpose".
STOPPED = "stopped: "


@dataclass
class Finding:
    """What a clock's recorded history reached that its row does not say."""

    breached_at: datetime | None = None
    internal_breached_at: datetime | None = None
    #: the internal goal reads "met" on the dashboard and was missed
    internal_wrong: bool = False
    why: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        """Wrong as recorded: a breach, or an internal goal, reported as met."""
        return self.breached_at is not None or self.internal_wrong


@dataclass
class RepairReport:
    examined: int = 0
    corrected: int = 0
    #: corrected clocks by what they were recorded as: "met", "exempt", "paused"...
    was: Counter[str] = field(default_factory=Counter)
    breached: int = 0  # of which now breached (the rest: internal goal only)
    internal: int = 0  # internal goal now missed
    rollup_rows: int = 0

    def lines(self) -> list[str]:
        was = ", ".join(f"{n} {state}" for state, n in sorted(self.was.items())) or "none"
        return [f"Clocks examined: {self.examined}",
                f"Clocks corrected: {self.corrected} (recorded as: {was})",
                f"  now breached: {self.breached}; internal goal now missed: {self.internal}",
                f"Metrics rollup rows refreshed: {self.rollup_rows}"]


def _repairable() -> Q:
    """Clocks a correction may concern: not exempted on purpose."""
    return ~Q(state=ClockState.EXEMPT) | Q(exempt_reason__startswith=STOPPED)


def candidates() -> Any:
    """Ids of the clocks worth examining, in order (a superset of the wrong ones).

    Those whose used time reached a target without a breach recorded (completed or
    paused), and those with a re-evaluation in their history and something not yet
    recorded. One pass over the clocks and one over the "recomputed" events.
    """
    unrecorded = Q(breached_at__isnull=True) | Q(internal_breached_at__isnull=True)
    over = (Q(breached_at__isnull=True, business_used__gte=F("target"))
            | Q(internal_breached_at__isnull=True, business_used__gte=F("internal_target")))
    not_running = Q(completed_at__isnull=False) | Q(state=ClockState.PAUSED)
    recomputed = ClockEvent.objects.filter(clock_id=OuterRef("pk"),
                                           kind=ClockEventKind.RECOMPUTED)
    return (Clock.objects.filter(_repairable() & unrecorded)
            .filter((over & not_running) | Q(Exists(recomputed)))
            .order_by("pk").values_list("pk", flat=True))


def repair_clocks(*, dry_run: bool = False, batch_size: int = 500,
                  progress: Callable[[RepairReport], None] | None = None) -> RepairReport:
    """Examine the candidate clocks and correct the wrong ones (each in a transaction).

    Idempotent: a corrected clock records its breach, so it is never corrected twice.
    `dry_run` counts what it would correct and writes nothing.
    """
    report = RepairReport()
    hours: set[datetime] = set()
    starts: set[datetime] = set()
    ids = list(candidates())
    for start in range(0, len(ids), batch_size):
        for pk in ids[start:start + batch_size]:
            with transaction.atomic():
                locked = (Clock.objects.select_for_update(of=("self",))
                          .select_related("calendar", "policy").filter(pk=pk).first())
                if locked is None:
                    continue
                report.examined += 1
                work = ClockWork(locked.ticket_id, at=timezone.now(), actor=None,
                                 clocks=[locked])
                finding = examine(work, locked)
                if not finding:
                    continue
                report.corrected += 1
                report.was[locked.state] += 1
                report.breached += finding.breached_at is not None
                report.internal += finding.internal_wrong
                starts.add(locked.started_at)
                if locked.metric == Metric.FIRST_RESPONSE and locked.completed_at:
                    hours.add(locked.started_at)  # the hour the manager dashboard files it
                if not dry_run:
                    correct(work, locked, finding)
        if progress is not None:
            progress(report)
    if starts and not dry_run:
        rollup.refresh_covered(starts)  # the SLA dashboard's days of those clocks
    if hours and not dry_run:
        # The manager dashboard's rollup (reporting) refreshes those hours.
        report.rollup_rows = hooks.clock_hours_corrected(hours)
    return report


# --- one clock ------------------------------------------------------------------------------

def _old_internal_met(clock: Clock) -> bool:
    """The internal verdict the dashboard gave a completed clock before the column."""
    if clock.internal_due_at is not None:
        return clock.completed_at <= clock.internal_due_at
    return clock.business_used <= clock.internal_target


def _text(value: timedelta) -> str:
    minutes = round(value.total_seconds() / 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"


@dataclass(frozen=True)
class Tenure:
    """A stretch of the clock's life under one set of targets (from its events)."""

    start: datetime
    end: datetime | None  # None: still in force on a running clock (the beat's business)
    target: timedelta
    internal_target: timedelta
    calendar: BusinessCalendar
    cause: str  # what set these targets


def tenures(clock: Clock, *, now: datetime) -> list[Tenure]:
    """The targets the clock had, from its "started" and "recomputed" events."""
    calendars: dict[str | None, BusinessCalendar] = {}
    rows = []
    for event in (ClockEvent.objects.filter(
            clock_id=clock.pk, kind__in=[ClockEventKind.STARTED, ClockEventKind.RECOMPUTED])
            .order_by("at", "pk")):
        snapshot = event.data if event.kind == ClockEventKind.STARTED else (
            event.data.get("after") or {})
        target = parse_duration(snapshot.get("target") or "")
        internal = parse_duration(snapshot.get("internal_target") or "") or target
        if target is None:
            continue
        if snapshot.get("calendar") not in calendars:
            calendars[snapshot.get("calendar")] = business_calendar_of(
                Calendar.objects.filter(name=snapshot.get("calendar")).first())
        rows.append((event.at, target, internal, calendars[snapshot.get("calendar")],
                     event.reason or event.get_kind_display().lower()))
    if not rows:  # no history to go by: the targets it has, from its start
        rows = [(clock.started_at, clock.target, clock.internal_target,
                 arith.calendar_of(clock), "its start")]
    last = clock.completed_at or (now if clock.state == ClockState.PAUSED else None)
    ends = [row[0] for row in rows[1:]] + [last]
    return [Tenure(start, end, target, internal, cal, cause)
            for (start, target, internal, cal, cause), end in zip(rows, ends, strict=True)]


def examine(work: ClockWork, clock: Clock) -> Finding:
    """The breach and internal miss the clock's history shows and its row lacks.

    Under each set of targets it had, the clock reached a target if its running
    stretches on that target's calendar crossed it before the next set replaced it (or
    before it completed; by now for a paused clock). The first such crossing is the
    instant, as the clock services record it.
    """
    finding = Finding()
    segments = work.segments(clock)
    for tenure in tenures(clock, now=work.at):
        if tenure.end is None:
            continue
        for contractual, amount in ((True, tenure.target), (False, tenure.internal_target)):
            at = arith.usage_instant(tenure.calendar, segments, amount)
            if at is None or at >= tenure.end:
                continue
            if at <= tenure.start:
                why = f"the {_text(amount)} target ({tenure.cause}) had already been reached"
            elif tenure.end == clock.completed_at:
                why = (f"recorded as {clock.state} with {_text(clock.business_used)} used "
                       f"against a {_text(amount)} target")
            elif clock.completed_at is None and tenure.end == work.at:
                why = f"paused with {_text(clock.business_used)} used against {_text(amount)}"
            else:
                why = f"its {_text(amount)} target was reached before it was re-evaluated"
            if contractual and clock.breached_at is None and finding.breached_at is None:
                finding.breached_at = at
                finding.why.append(why)
            elif not contractual and clock.internal_breached_at is None \
                    and finding.internal_breached_at is None:
                finding.internal_breached_at = at
                # Completed clocks the dashboard already counted as missing it: not wrong.
                finding.internal_wrong = clock.completed_at is None or _old_internal_met(clock)
                if finding.internal_wrong:
                    finding.why.append(f"internal goal: {why}")
    return finding


def correct(work: ClockWork, clock: Clock, finding: Finding) -> None:
    """Record the finding on the clock, with a "corrected" event saying why."""
    previous = {"state": clock.state, "met_at": iso_at(clock.met_at),
                "exempt_reason": clock.exempt_reason, "breached_at": iso_at(clock.breached_at),
                "internal_breached_at": iso_at(clock.internal_breached_at)}
    if finding.internal_breached_at is not None:
        clock.internal_breached_at = finding.internal_breached_at
    if finding.breached_at is not None:
        clock.breached_at = finding.breached_at
        if clock.completed_at is not None:
            clock.state, clock.met_at, clock.exempt_reason = ClockState.BREACHED, None, ""
        elif clock.state == ClockState.RUNNING:
            clock.state = ClockState.BREACHED
        work.event(clock, ClockEventKind.BREACHED, at=finding.breached_at,
                   reason="target passed (found by the clock repair)",
                   data={"target": iso_dur(clock.target), "detected_at": iso_at(work.at)})
    work.event(clock, ClockEventKind.CORRECTED, reason=f"corrected: {'; '.join(finding.why)}",
               data={"previous": previous, "state": clock.state,
                     "breached_at": iso_at(clock.breached_at),
                     "internal_breached_at": iso_at(clock.internal_breached_at),
                     "business_used": iso_dur(clock.business_used), "target": iso_dur(clock.target),
                     "internal_target": iso_dur(clock.internal_target)})
    if clock.completed_at is None:
        work.refresh_level(clock, arith.calendar_of(clock))  # the levels it passed fire
    clock.save()
    sync_ticket(clock.ticket_id)

"""Workforce history (see helpdesk/generators.py): schedules, statuses and on-call.

- Shifts for every agent of every team over the generated period and three weeks ahead,
  five days a week in the agent's own time zone, template and days off chosen so that the
  team covers the week's arrival curve (`Run.demand`, UTC) in proportion to it, follow
  the sun (see `_plan`); none on approved time off; every agent has holidays and the odd sick
  day, and some requests still wait for a decision.
- Agent status intervals along the past shifts (a little late or early now and then):
  available, a break mid-shift, sometimes a meeting or training, offline in between;
  the last one is still open.
- The capacity page's rollups (arrivals, handle time) over the period, at the end.
- A weekly on-call rotation for each L2 and L3 team, and a page to whoever was primary
  (the paged-twice rule of `workforce.oncall` applied week by week) for the urgent
  tickets escalated to them, acknowledged within minutes.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from helpdesk import generators
from helpdesk.generators import Batch, Run

from . import oncall, rollup
from .models import (
    AgentStatus,
    ArrivalHour,
    HandleDay,
    Page,
    Rotation,
    RotationMember,
    ScheduledShift,
    ShiftTemplate,
    TimeOff,
)
from .page_text import escalated_reason

DAY = 86400.0
_dt = datetime.fromtimestamp
TEMPLATES = (("Core 09-17", time(9), time(17)), ("Early 06-14", time(6), time(14)),
             ("Late 12-20", time(12), time(20)), ("Evening 14-22", time(14), time(22)),
             ("Night 22-06", time(22), time(6)))
ROTATION_TEAMS = ("l2-technical", "l2-enterprise", "l3-specialty")
SHIFT_COLUMNS = ("agent_id", "team_id", "template_id", "starts_at", "ends_at",
                 "break_minutes", "note")
TIME_OFF_COLUMNS = ("agent_id", "starts_at", "ends_at", "reason", "status", "decided_by_id",
                    "decided_at")
STATUS_COLUMNS = ("agent_id", "status", "started_at", "ended_at")
PAGE_COLUMNS = ("rotation_id", "user_id", "role", "ticket_id", "reason", "priority",
                "after_hours", "created_at", "acknowledged_at", "dedupe_key")


@dataclass
class _Rotation:
    id: int
    members: list[int]
    handoffs: oncall.Handoffs
    zone: ZoneInfo
    threshold: int
    business: tuple[time, time]
    p1_only: bool
    pages: dict[int, dict[int, int]] = field(default_factory=lambda: defaultdict(dict))


def prepare(run: Run) -> None:
    rng = run.rng("workforce")
    using = run.using
    templates = []
    for name, start, end in TEMPLATES:
        template, _ = ShiftTemplate.objects.using(using).get_or_create(
            name=name, defaults={"start": start, "end": end, "break_minutes": 30})
        templates.append(template)
    first_day = date.fromtimestamp(run.start)
    last_day = date.fromtimestamp(run.now) + timedelta(days=21)
    today = date.fromtimestamp(run.now)
    now = _dt(run.now, UTC)
    manager = (run.staff.get("manager") or [None])[0]
    shifts, time_off, statuses = [], [], []
    reference = date.fromtimestamp(run.now)
    monday = reference - timedelta(days=reference.weekday())
    for team, agents in run.team_agents.items():
        plan = _plan(templates, agents, run.demand, monday)
        for agent, zone_name in agents:
            zone = ZoneInfo(zone_name or "UTC")
            template, off_days = plan[agent]
            # Holidays: two blocks of 3-5 days, a sick day or two; one request pending.
            away: set[date] = set()
            span = (last_day - first_day).days
            for _ in range(2):
                begin = first_day + timedelta(days=rng.randrange(max(1, span - 6)))
                length = rng.randint(3, 5)
                days = [begin + timedelta(days=i) for i in range(length)]
                upcoming = begin > today
                status = "requested" if upcoming and rng.random() < 0.5 else "approved"
                start = datetime.combine(days[0], time(0), tzinfo=zone)
                end = datetime.combine(days[-1] + timedelta(days=1), time(0), tzinfo=zone)
                decided = start - timedelta(days=rng.randint(7, 30))
                time_off.append((agent, start, end, "Holiday", status,
                                 manager if status == "approved" else None,
                                 min(decided, now) if status == "approved" else None))
                if status == "approved":
                    away.update(days)
            for _ in range(rng.choice((0, 1, 1, 2))):
                sick = first_day + timedelta(days=rng.randrange(max(1, (today - first_day).days)))
                start = datetime.combine(sick, time(0), tzinfo=zone)
                time_off.append((agent, start, start + timedelta(days=1), "Sick", "approved",
                                 manager, min(start + timedelta(hours=8), now)))
                away.add(sick)
            day = first_day
            last_end: datetime | None = None
            while day <= last_day:
                if day.weekday() in off_days or day in away:
                    day += timedelta(days=1)
                    continue
                start = datetime.combine(day, template.start, tzinfo=zone).astimezone(UTC)
                end_day = day + timedelta(days=1) if template.end <= template.start else day
                end = datetime.combine(end_day, template.end, tzinfo=zone).astimezone(UTC)
                shifts.append((agent, team, template.pk, start, end, 30, ""))
                if end <= now:
                    last_end = _statuses(rng, statuses, agent, start, end, last_end)
                day += timedelta(days=1)
            if last_end is not None:  # offline since the last shift: the open status
                statuses.append((agent, "offline", last_end, None))
    run.write(ScheduledShift, SHIFT_COLUMNS, shifts)
    run.write(TimeOff, TIME_OFF_COLUMNS, time_off)
    run.write(AgentStatus, STATUS_COLUMNS, statuses)
    run.state["workforce"] = _rotations(run, rng)
    run.log(f"  workforce: {len(shifts):,} shifts, {len(time_off):,} time off, "
            f"{len(statuses):,} status intervals")


# Two days off in a row, the usual weekend first: (weekday, weekday), Monday = 0.
OFF_DAYS = ((5, 6), (6, 0), (0, 1), (1, 2), (2, 3), (3, 4), (4, 5))
# A night shift is chosen only where it adds clearly more than a day shift would.
NIGHT_PENALTY = 0.85
MIN_ON_SHIFT = 2


def _week_hours(template: ShiftTemplate, zone: ZoneInfo, monday: date,
                off_days: tuple[int, int]) -> list[int]:
    """UTC hours of the week (0 = Monday 00:00 UTC) a template worked five days covers."""
    week_start = datetime.combine(monday, time(0), tzinfo=UTC)
    length = (template.end.hour - template.start.hour) % 24 or 24
    hours = []
    for weekday in range(7):
        if weekday in off_days:
            continue
        start = datetime.combine(monday + timedelta(days=weekday), template.start,
                                 tzinfo=zone).astimezone(UTC)
        first = int((start - week_start).total_seconds() // 3600)
        hours.extend((first + i) % 168 for i in range(length))
    return hours


def _plan(templates: list[ShiftTemplate], agents: list[tuple[int, str]],
          demand: tuple[float, ...], monday: date,
          ) -> dict[int, tuple[ShiftTemplate, tuple[int, int]]]:
    """Each agent's shift template and days off, chosen one agent after the other where
    they fill most of what the team still lacks. Each UTC hour of the week wants its
    share of the team's agent-hours along the arrival curve, and never fewer than
    `MIN_ON_SHIFT` (the capacity model asks for a couple of agents at any hour with
    chats or calls, however few); an hour counts by how much of that it still misses.
    Agents far east or west, in their own daytime, cover the UTC nights and the early
    Monday hours (follow the sun); the weekends get their crew."""
    total = sum(demand) or 1.0
    agent_hours = 40 * len(agents)
    want = [max(MIN_ON_SHIFT, agent_hours * d / total) for d in demand]
    covered = [0] * 168
    plan: dict[int, tuple[ShiftTemplate, tuple[int, int]]] = {}
    options: dict[str, list[tuple[ShiftTemplate, tuple[int, int], list[int], float]]] = {}
    for agent, zone_name in agents:
        zone_name = zone_name or "UTC"
        if zone_name not in options:
            zone = ZoneInfo(zone_name)
            options[zone_name] = [
                (template, off, _week_hours(template, zone, monday, off),
                 NIGHT_PENALTY if template.end <= template.start else 1.0)
                for template in templates for off in OFF_DAYS]
        best = max(options[zone_name], key=lambda o: o[3] * sum(
            max(0.0, 1 - covered[h] / want[h]) for h in o[2]))  # first of equals wins
        for h in best[2]:
            covered[h] += 1
        plan[agent] = (best[0], best[1])
    return plan


def _statuses(rng, out: list[tuple], agent: int, start: datetime, end: datetime,
              last_end: datetime | None) -> datetime:
    """The status intervals of one worked shift; returns when the agent went offline."""
    begin = start + timedelta(minutes=rng.choice((-5, 0, 0, 0, 2, 8)))
    finish = end + timedelta(minutes=rng.choice((-10, 0, 0, 0, 5, 15)))
    if last_end is not None and last_end < begin:
        out.append((agent, "offline", last_end, begin))
    middle = begin + (finish - begin) / 2
    pieces = [("available", begin, middle), ("break", middle, middle + timedelta(minutes=30))]
    after = middle + timedelta(minutes=30)
    extra = rng.random()
    if extra < 0.25:
        kind = "meeting" if extra < 0.18 else "training"
        pieces.append(("available", after, after + timedelta(hours=1)))
        pieces.append((kind, after + timedelta(hours=1), after + timedelta(hours=1, minutes=45)))
        after += timedelta(hours=1, minutes=45)
    pieces.append(("available", after, finish))
    out.extend((agent, kind, a, b) for kind, a, b in pieces if b > a)
    return finish


def _rotations(run: Run, rng) -> dict[int, _Rotation]:
    """One weekly rotation per L2 / L3 team, members in a stable order."""
    out = {}
    starts_on = date.fromtimestamp(run.start)
    for team, slug in run.team_slugs.items():
        agents = [a for a, _ in run.team_agents.get(team, [])]
        if slug not in ROTATION_TEAMS or not agents:
            continue
        zone = run.team_agents[team][0][1] or "UTC"
        rotation, created = Rotation.objects.using(run.using).get_or_create(
            name=f"{slug} on-call", defaults={
                "team_id": team, "timezone": zone, "handoff_weekday": 0,
                "handoff_time": time(9), "starts_on": starts_on})
        if created:
            RotationMember.objects.using(run.using).bulk_create([
                RotationMember(rotation=rotation, user_id=a, position=i)
                for i, a in enumerate(agents)])
        members = list(RotationMember.objects.using(run.using).filter(rotation=rotation)
                       .order_by("position").values_list("user_id", flat=True))
        out[team] = _Rotation(
            id=rotation.pk, members=members,
            handoffs=oncall.Handoffs(rotation.timezone, rotation.starts_on,
                                     rotation.handoff_weekday, rotation.handoff_time),
            zone=ZoneInfo(rotation.timezone), threshold=rotation.skip_after_pages,
            business=(rotation.business_start, rotation.business_end),
            p1_only=rotation.after_hours_p1_only)
    return out


def tickets(run: Run, batch: Batch) -> None:
    rotations: dict[int, _Rotation] = run.state["workforce"]
    rng = run.rng("workforce")
    pages = []
    for h in batch.tickets:
        if h.priority > 2:
            continue
        for n, (at, _, to_team) in enumerate(h.escalations):
            rotation = rotations.get(to_team) if to_team else None
            if rotation is None:
                continue
            when = _dt(at, UTC)
            after_hours = oncall.is_after_hours(when.astimezone(rotation.zone),
                                                *rotation.business)
            if after_hours and rotation.p1_only and h.priority != 1:
                continue
            week = rotation.handoffs.week_at(when)
            skipped = oncall.skipped_members(rotation.pages.get(week - 1, {}),
                                             rotation.threshold)
            primary = oncall.assign(rotation.members, week, skipped).primary
            if primary is None:
                continue
            counts = rotation.pages[week]
            counts[primary] = counts.get(primary, 0) + 1
            ack = at + 60 * rng.lognormvariate(1.3, 0.7)
            pages.append((rotation.id, primary, "primary", h.id,
                          escalated_reason(h.priority, h.subject)[:255], h.priority,
                          after_hours, when, _dt(ack, UTC) if ack < run.now else None,
                          f"devdata:{h.id}:{n}"))
    batch.add(Page, PAGE_COLUMNS, pages)


def finish(run: Run) -> None:
    """The capacity rollups over the generated period, as the nightly job builds them
    (after every chunk: the time entries are written by the tickets' generator)."""
    days = max(1, math.ceil((run.now - run.start) / DAY) + 1)
    rollup.rebuild(days, now=_dt(run.now, UTC))
    for model in (ArrivalHour, HandleDay):
        run.count(model._meta.db_table, model.objects.count())
    run.log(f"  workforce: capacity rollups of {days} days")


generators.register(generators.Generator("workforce", order=3, prepare=prepare,
                                         tickets=tickets, finish=finish))

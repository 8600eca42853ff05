"""Random ticket histories against an independent model of the clock rules.

Hypothesis plays histories through the real services with time travel: replies, notes,
waits on the customer and on a third party, priority, tier and tag changes (a tag
switches to a 24/7 "VIP" policy), resolution, reopening and closing, across a DST change
and two holidays, with the escalation job run between events as the beat would. Then
every clock is held against a model a few lines long:

- used time = the business time of the clock's running stretches (the ticket not
  waiting) on the calendar of its target;
- under each target it had (from its start, or from the re-evaluation that set it, to the
  next one), the clock reached it if its used time crossed it before that target was
  replaced or the clock completed; the first such crossing is its breach. A clock is met
  only if it never reached one; the internal target likewise;
- the 100 % level fired iff at some run of the job the clock was active and its used
  time had reached the target it had then.

The model reads the ticket's status history from the audit trail and computes targets
from the policy tables (sla.defaults), not from the clocks. Escalations that raise the
priority are switched off here (the model would have to replay them; test_retargeting
covers that path).

40 histories per run keep it near half a minute per database; for a deeper search,
SLA_PROPERTY_EXAMPLES=1000 pytest tests/sla/test_clock_properties.py.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import F
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from helpdesk import config_cache
from helpdesk.models import SupportTier
from sla import escalation
from sla.calendar import BusinessCalendar
from sla.defaults import INTERNAL_SHARE, LEVELS, MATRIX, TIER_MULTIPLIERS
from sla.models import Clock, ClockEvent, ClockLevelFire, Level, Policy, Target
from sla.services import repair
from sla.services.work import ClockWork
from tickets.models import Tag, TicketEvent

from .conftest import build_calendar, customer_of, use_calendar, utc

pytestmark = pytest.mark.django_db

FR, NR, PU, RES = "first_response", "next_response", "periodic_update", "resolution"
HOLIDAYS = (date(2026, 4, 3), date(2026, 4, 6))  # Good Friday, Easter Monday
LONDON = BusinessCalendar("Europe/London", {d: [(utc(2026, 1, 1, 9).time(),
                                                  utc(2026, 1, 1, 17).time())]
                                            for d in range(5)}, HOLIDAYS)
ALWAYS = BusinessCalendar.always()
FIRST = utc(2026, 3, 25, 8)  # histories start within two weeks of this: DST on 29 March
WAITING = ("waiting_on_customer", "waiting_on_third_party")
US = timedelta(microseconds=1)


# --- the policies, as the model reads them -----------------------------------------------

def _round(value: timedelta, factor) -> timedelta:
    num, den = Decimal(factor).as_integer_ratio()
    return timedelta(microseconds=max(1, (value // US * num * 2 + den) // (2 * den)))


def _targets(vip: bool, priority: int, tier: str) -> dict[str, tuple]:
    """metric -> (contractual, internal, calendar) as the policy tables define them."""
    first, resolution, update = MATRIX[priority]
    out = {}
    for metric, value in ((FR, first), (NR, first), (RES, resolution), (PU, update)):
        if value is None:
            continue
        internal = timedelta(seconds=int(value.total_seconds() * float(INTERNAL_SHARE)))
        if vip:
            value, internal = value / 2, internal / 2
        factor = TIER_MULTIPLIERS[tier]
        out[metric] = (_round(value, factor), _round(internal, factor),
                       ALWAYS if vip or priority == 1 else LONDON)
    return out


@pytest.fixture
def desk_setup(desk, standard, agent):
    """Standard support on a London office calendar with holidays; a VIP policy (tag
    "vip") at half the targets, 24/7. Levels as seeded, without raising the priority."""
    office = build_calendar("London office", "Europe/London", holidays=HOLIDAYS)
    use_calendar(standard, office, priorities=(2, 3, 4, 5))
    vip = Policy.objects.create(name="VIP", order=10)
    vip.tags.add(Tag.objects.create(name="vip"))
    Target.objects.bulk_create([
        Target(policy=vip, priority=t.priority, metric=t.metric, contractual=t.contractual / 2,
               internal=t.internal / 2, calendar=None)
        for t in Target.objects.filter(policy=standard)])
    Level.objects.bulk_create([Level(policy=vip, percent=p, colour=c)
                               for p, c, *_ in LEVELS])
    Level.objects.update(raise_priority=False)
    config_cache.forget()  # a bulk update sends no signal (the admin saves row by row)
    return desk


# --- histories ------------------------------------------------------------------------------

ACTIONS = {  # action -> (statuses it may be taken in, weight; while waiting)
    "agent_reply": (("assigned", "in_progress", *WAITING), 2, 1),
    "ask_and_wait": (("assigned", "in_progress"), 2, 0),
    "note": (("assigned", "in_progress", *WAITING), 1, 1),
    "customer_reply": (("assigned", "in_progress", *WAITING, "resolved"), 2, 1),
    "wait_on_customer": (("assigned", "in_progress"), 4, 0),
    "wait_on_third_party": (("assigned", "in_progress"), 3, 0),
    "resume": (WAITING, 0, 2),
    "resolve": (("assigned", "in_progress", *WAITING), 2, 3),
    "reopen": (("resolved",), 2, 0),
    "close": (("waiting_on_customer", "resolved"), 1, 1),
    # Re-evaluations, above all while the ticket waits: the paths of issue 25.
    "priority": (("assigned", "in_progress", *WAITING), 2, 8),
    "tier": (("assigned", "in_progress", *WAITING, "resolved"), 1, 4),
    "vip": (("assigned", "in_progress", *WAITING), 1, 4),
}


def choices(status: str) -> list[str]:
    """The actions possible in `status`, each repeated by its weight."""
    return [action for action, (allowed, weight, waiting_weight) in ACTIONS.items()
            if status in allowed
            for _ in range(waiting_weight if status in WAITING else max(weight, 1))]


gaps = st.one_of(st.integers(1, 90), st.integers(91, 3 * 24 * 60)).map(
    lambda minutes: timedelta(minutes=minutes))


@dataclass
class History:
    """What happened, as the model needs it: target changes and agent replies."""

    changes: list[tuple[datetime, bool, int, str]] = field(default_factory=list)
    agent_replies: set[datetime] = field(default_factory=set)
    beats: list[datetime] = field(default_factory=list)

    def targets_at(self, at: datetime) -> dict[str, tuple]:
        vip, priority, tier = next(c[1:] for c in reversed(self.changes) if c[0] <= at)
        return _targets(vip, priority, tier)


def play(desk, data, agent) -> tuple[object, History, datetime]:
    """Draw and play one history; return the ticket, what happened and the end instant."""
    tier = data.draw(st.sampled_from(list(TIER_MULTIPLIERS)), label="tier")
    priority = data.draw(st.integers(1, 5), label="priority")
    third_party_pauses = data.draw(st.booleans(), label="third party pauses")
    Policy.objects.update(pause_on_third_party=third_party_pauses)
    config_cache.forget()  # a bulk update sends no signal (the admin saves row by row)
    customer = customer_of(SupportTier(tier))
    org = customer.organization
    now = FIRST + data.draw(st.integers(0, 14 * 24 * 60), label="start") * timedelta(
        minutes=1) + timedelta(seconds=30)
    ticket = desk.create(customer, priority=priority, at=now)
    history = History(changes=[(now, False, priority, tier)])
    vip, status = False, desk.fresh(ticket).status
    for _ in range(data.draw(st.integers(1, 12), label="steps")):
        if status == "closed":
            break
        gap = data.draw(gaps, label="gap")
        history.beats.append(now + gap - timedelta(seconds=15))
        desk.run(escalation.fire_due_levels, when=history.beats[-1])
        now += gap
        action = data.draw(st.sampled_from(choices(status)), label="action")
        if action in ("agent_reply", "ask_and_wait"):
            wait = action == "ask_and_wait"
            desk.reply(ticket, agent, at=now, set_status="waiting_on_customer" if wait else "",
                       status_reason="Please send the logs" if wait else "")
            history.agent_replies.add(now)
        elif action == "note":
            desk.note(ticket, agent, at=now)
        elif action == "customer_reply":
            desk.reply(ticket, customer, at=now, body="More details")
        elif action in ("wait_on_customer", "wait_on_third_party"):
            desk.move(ticket, "waiting_on_" + action.removeprefix("wait_on_"), actor=agent,
                      at=now, reason="Waiting")
        elif action in ("resume", "reopen"):
            desk.move(ticket, "in_progress", actor=customer if action == "reopen" else agent,
                      at=now, reason="Again")
        elif action in ("resolve", "close"):
            desk.move(ticket, {"resolve": "resolved", "close": "closed"}[action], actor=agent,
                      at=now, reason="Done")
        elif action == "priority":
            priority = data.draw(st.sampled_from([p for p in range(1, 6) if p != priority]))
            desk.update(ticket, actor=agent, at=now, priority=priority)
        elif action == "vip":
            vip = not vip
            desk.update(ticket, actor=agent, at=now, tags=["vip"] if vip else [])
        elif action == "tier":
            tier = data.draw(st.sampled_from([t for t in TIER_MULTIPLIERS if t != tier]))
            org.support_tier = tier
            desk.run(org.save, when=now)
        if action in ("priority", "vip", "tier"):
            history.changes.append((now, vip, priority, tier))
            if status in WAITING and Clock.objects.filter(
                    ticket=ticket, state="paused", business_used__gte=F("target")).exists():
                event("re-targeted below the time used while waiting")
        status = desk.fresh(ticket).status
    end = now + timedelta(seconds=45)
    history.beats.append(end)
    desk.run(escalation.fire_due_levels, when=end)
    return ticket, history, end


# --- the model ------------------------------------------------------------------------------

def running_stretches(ticket, start: datetime, end: datetime | None,
                      third_party_pauses: bool) -> list[tuple[datetime, datetime | None]]:
    """[start, end) minus the stretches the ticket waited; end None: still running."""
    def waits(status: str) -> bool:
        return status == "waiting_on_customer" or (
            status == "waiting_on_third_party" and third_party_pauses)

    changes = list(TicketEvent.objects.filter(ticket=ticket, kind="status")
                   .order_by("created_at", "pk").values_list("created_at", "after"))
    status = next((after for at, after in reversed(changes) if at <= start), "new")
    stretches, since = [], None if waits(status) else start
    for at, after in changes:
        if at <= start or (end is not None and at >= end):
            continue
        if waits(after) and since is not None:
            stretches.append((since, at))
            since = None
        elif not waits(after) and since is None:
            since = at
    if since is not None:
        stretches.append((since, end))
    return [(s, e) for s, e in stretches if e is None or e > s]


def used(cal: BusinessCalendar, stretches, until: datetime) -> timedelta:
    return sum((cal.elapsed(s, min(e or until, until)) for s, e in stretches if s < until),
               timedelta(0))


def crossing(cal: BusinessCalendar, stretches, amount: timedelta) -> datetime | None:
    """When the used time reached `amount` (going on running if the last stretch is open)."""
    acc = timedelta(0)
    for s, e in stretches:
        part = None if e is None else cal.elapsed(s, e)
        if part is None or acc + part >= amount:
            return cal.add(s, amount - acc)
        acc += part
    return None


def expected(clock: Clock, ticket, history: History, now: datetime,
             third_party_pauses: bool) -> dict:
    """What the model says of one clock, in the product's terms."""
    end = clock.completed_at
    stretches = running_stretches(ticket, clock.started_at, end, third_party_pauses)
    # The targets it had: from its start, and from each change while it ran.
    starts = [clock.started_at] + [c[0] for c in history.changes
                                   if clock.started_at < c[0] < (end or now)]
    tenures = []
    for a, b in zip(starts, [*starts[1:], end or now], strict=True):
        if clock.metric in history.targets_at(a):
            tenures.append((a, b, *history.targets_at(a)[clock.metric]))
    counting = end is None and bool(stretches) and stretches[-1][1] is None
    breached_at = internal_breached_at = None
    for a, b, target, internal, cal in tenures:
        for amount, which in ((target, "contract"), (internal, "internal")):
            if which == "internal" and counting and b == now:
                # No job watches internal goals: a running clock records one it passes
                # when it stops counting, or when a change or a resume finds it passed.
                b = max(a, stretches[-1][0])
            at = crossing(cal, stretches, amount)
            if at is not None and at < b:
                if which == "contract" and breached_at is None:
                    breached_at = at
                if which == "internal" and internal_breached_at is None:
                    internal_breached_at = at
    _, _, target, internal, cal = tenures[-1]
    model = {"breached_at": breached_at, "internal_breached_at": internal_breached_at,
             "used": used(cal, stretches, end or now)}
    if end is None:
        model["state"] = ("breached" if breached_at else "running") if counting else "paused"
        model["due_at"] = crossing(cal, stretches, target) if counting else None
        model["internal_due_at"] = crossing(cal, stretches, internal) if counting else None
    elif breached_at is not None:
        model["state"] = "breached"
    else:
        meets = end in history.agent_replies if clock.metric != RES else (
            TicketEvent.objects.filter(ticket=ticket, kind="status", after="resolved",
                                       created_at=end).exists())
        model["state"] = "met" if meets else "exempt"
    model["fired_100"] = any(
        clock.started_at <= beat < (end or now + US)
        and clock.metric in (targets := history.targets_at(beat))
        and used(targets[clock.metric][2], stretches, beat) >= targets[clock.metric][0]
        for beat in history.beats)
    return model


def product(clock: Clock, now: datetime) -> dict:
    cal = clock.calendar.business_calendar() if clock.calendar_id else ALWAYS
    used_now = clock.business_used
    if clock.completed_at is None and clock.segment_started_at is not None:
        used_now += cal.elapsed(clock.segment_started_at, now)
    shown = {"state": clock.state, "breached_at": clock.breached_at,
             "internal_breached_at": clock.internal_breached_at, "used": used_now,
             "fired_100": ClockLevelFire.objects.filter(clock=clock, percent=100).exists()}
    if clock.completed_at is None:
        shown.update(due_at=clock.due_at, internal_due_at=clock.internal_due_at)
    return shown


@settings(max_examples=int(os.environ.get("SLA_PROPERTY_EXAMPLES", "40")), deadline=None,
          database=None, phases=[Phase.explicit, Phase.generate, Phase.shrink],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_random_histories_match_the_model(desk_setup, agent, data):
    desk = desk_setup
    with transaction.atomic():
        ticket, history, now = play(desk, data, agent)
        third_party_pauses = Policy.objects.filter(pause_on_third_party=True).exists()
        desk.traveller.move_to(now)
        checked = 0
        for clock in Clock.objects.filter(ticket=ticket).select_related("calendar", "policy"):
            if clock.state == "exempt" and not clock.exempt_reason.startswith("stopped: "):
                continue  # taken out of the SLA (no target any more): nothing to hold
            model = expected(clock, ticket, history, now, third_party_pauses)
            assert product(clock, now) == model, (clock.metric, clock.cycle, history)
            if clock.completed_at is not None and clock.state != "exempt":
                done = ClockEvent.objects.get(clock=clock, kind__in=["met", "stopped"])
                assert done.data["internal_met"] is (model["internal_breached_at"] is None)
            work = ClockWork(ticket.pk, at=now, actor=None, clocks=[clock])
            assert not repair.examine(work, clock), "the repair would find this clock wrong"
            checked += 1
        assert checked
        transaction.set_rollback(True)

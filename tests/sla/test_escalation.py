"""Breach prevention: SLA levels fire once each, in order, and escalate as configured."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from helpdesk.models import Notification
from helpdesk.roles import Role
from sla import escalation
from sla.calendar import BusinessCalendar
from sla.models import (
    Calendar,
    Clock,
    ClockEvent,
    ClockLevelFire,
    ClockState,
    Level,
    Metric,
    Policy,
)
from sla.tasks import scan_due_clocks
from tickets.models import Ticket, TicketEvent

from ..factories import make_ticket, make_user, team

pytestmark = pytest.mark.django_db

# Monday 2 March 2026, 13:00 UTC.
T0 = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


# --- builders --------------------------------------------------------------------------

def make_policy(name: str = "Escalation test",
                level_overrides: dict[int, dict] | None = None) -> Policy:
    """The default ladder: 50 yellow, 80 assignee, 90 + lead, 100 + managers, 200 severe."""
    policy = Policy.objects.create(name=name, order=1)
    ladder = [
        (50, "yellow", {}),
        (80, "orange", {"notify_assignee": True}),
        (90, "red", {"notify_assignee": True, "notify_team_lead": True}),
        (100, "breach", {"notify_assignee": True, "notify_team_lead": True,
                         "notify_managers": True}),
        (200, "severe", {"notify_managers": True}),
    ]
    for percent, colour, actions in ladder:
        Level.objects.create(policy=policy, percent=percent, colour=colour,
                             **{**actions, **(level_overrides or {}).get(percent, {})})
    return policy


def start_clock(ticket: Ticket, policy: Policy, *, started: datetime = T0,
                target: timedelta = HOUR, metric: str = Metric.FIRST_RESPONSE,
                calendar: Calendar | None = None, cycle: int = 1, **fields) -> Clock:
    """A running clock as the clock services leave it: next level = the first one."""
    cal = calendar.business_calendar() if calendar else BusinessCalendar.always()
    first = policy.levels.order_by("percent").first()
    clock = Clock.objects.create(
        ticket=ticket, metric=metric, cycle=cycle, policy=policy, calendar=calendar,
        target=target, internal_target=target * 3 / 4, started_at=started,
        segment_started_at=started, due_at=cal.add(started, target),
        internal_due_at=cal.add(started, target * 3 / 4),
        next_level_at=cal.add(started, target * first.percent / 100),
        next_level_percent=first.percent, **fields,
    )
    return clock


@pytest.fixture
def policy(db):
    return make_policy()


@pytest.fixture
def director(db):
    return make_user(Role.MANAGER, username="dora_director")


@pytest.fixture
def staffed(agent, lead, manager, l2_agent):
    """Agent and lead in L1, a manager, an L2 agent (whose team has no lead)."""
    return {"agent": agent, "lead": lead, "manager": manager, "l2_agent": l2_agent}


@pytest.fixture
def ticket(customer_a, staffed):
    with time_machine.travel(T0, tick=False):
        t = make_ticket(customer_a, priority=3)
    Ticket.objects.filter(pk=t.pk).update(team=team("l1-general"), assignee=staffed["agent"],
                                          status="assigned")
    Clock.objects.filter(ticket=t).delete()  # whatever the SLA handlers started: ours only
    return Ticket.objects.get(pk=t.pk)


def fire_at(at: datetime) -> int:
    with time_machine.travel(at, tick=False):
        return escalation.fire_due_levels()


def fired_percents(clock: Clock) -> list[int]:
    return list(ClockLevelFire.objects.filter(clock=clock).order_by("fired_at", "id")
                .values_list("percent", flat=True))


def level_events(clock: Clock) -> list[tuple[int, datetime]]:
    return [(e.data["percent"], e.at) for e in
            ClockEvent.objects.filter(clock=clock, kind="level").order_by("id")]


def notes_for(user) -> list[str]:
    return list(Notification.objects.filter(recipient=user).order_by("id")
                .values_list("dedupe_key", flat=True))


# --- firing in order, once ---------------------------------------------------------------

def test_levels_fire_in_order_as_time_passes_each_once(ticket, policy):
    clock = start_clock(ticket, policy)
    assert fire_at(T0 + timedelta(minutes=29, seconds=59)) == 0
    steps = [(30, [50]), (48, [50, 80]), (54, [50, 80, 90]), (60, [50, 80, 90, 100]),
             (119, [50, 80, 90, 100]), (120, [50, 80, 90, 100, 200])]
    for minutes, expected in steps:
        fire_at(T0 + timedelta(minutes=minutes))
        fire_at(T0 + timedelta(minutes=minutes))  # a duplicated beat changes nothing
        assert fired_percents(clock) == expected
    assert level_events(clock) == [(p, T0 + HOUR * p / 100) for p in (50, 80, 90, 100, 200)]
    clock.refresh_from_db()
    assert clock.next_level_at is None  # the ladder is done: the clock leaves the scan
    assert fire_at(T0 + 10 * HOUR) == 0


def test_catch_up_after_downtime_fires_every_missed_level_once_in_order(ticket, policy,
                                                                        staffed):
    clock = start_clock(ticket, policy)
    # Workers were down for three hours: one scan catches up.
    assert fire_at(T0 + 3 * HOUR) == 1
    assert fired_percents(clock) == [50, 80, 90, 100, 200]
    fires = ClockLevelFire.objects.filter(clock=clock).order_by("percent")
    assert [f.scheduled_at for f in fires] == [T0 + HOUR * p / 100 for p in (50, 80, 90, 100,
                                                                              200)]
    assert all(f.fired_at == T0 + 3 * HOUR for f in fires)
    assert level_events(clock) == [(p, T0 + HOUR * p / 100) for p in (50, 80, 90, 100, 200)]
    # Each level told its people once: the assignee at 80, 90 and 100.
    assert notes_for(staffed["agent"]) == [f"sla:{clock.pk}:{p}:{staffed['agent'].pk}"
                                           for p in (80, 90, 100)]
    assert fire_at(T0 + 3 * HOUR) == 0
    assert ClockLevelFire.objects.filter(clock=clock).count() == 5
    ticket.refresh_from_db()
    assert ticket.sla_level == "severe"


def test_breach_is_recorded_at_the_scheduled_instant_not_the_scan_time(ticket, policy):
    clock = start_clock(ticket, policy)
    fire_at(T0 + HOUR + timedelta(minutes=7, seconds=13))  # a late scan
    clock.refresh_from_db()
    assert clock.state == ClockState.BREACHED
    assert clock.breached_at == T0 + HOUR == clock.due_at
    breach = ClockEvent.objects.get(clock=clock, kind="breached")
    assert breach.at == T0 + HOUR
    assert breach.actor is None
    ticket.refresh_from_db()
    assert ticket.sla_level == "breach"
    # The breached clock keeps counting towards the severe level.
    assert clock.next_level_percent == 200
    assert clock.next_level_at == T0 + 2 * HOUR


def test_friday_evening_ticket_catches_up_on_monday_morning(customer_a, staffed, policy):
    """Business hours 09-17 UTC: a 1 h target opened Friday 16:30 breaches Monday 09:30."""
    office = Calendar.objects.get(name="Business hours")
    friday = datetime(2026, 3, 6, 16, 30, tzinfo=UTC)
    with time_machine.travel(friday, tick=False):
        t = make_ticket(customer_a, priority=3)
    Ticket.objects.filter(pk=t.pk).update(team=team("l1-general"), assignee=staffed["agent"])
    Clock.objects.filter(ticket=t).delete()
    clock = start_clock(t, policy, started=friday, calendar=office)
    assert clock.next_level_at == datetime(2026, 3, 6, 17, 0, tzinfo=UTC)
    assert fire_at(datetime(2026, 3, 7, 12, 0, tzinfo=UTC)) == 1  # Saturday: yellow only
    assert fired_percents(clock) == [50]
    fire_at(datetime(2026, 3, 9, 10, 0, tzinfo=UTC))  # Monday 10:00
    assert fired_percents(clock) == [50, 80, 90, 100]
    clock.refresh_from_db()
    assert clock.breached_at == datetime(2026, 3, 9, 9, 30, tzinfo=UTC)
    scheduled = dict(ClockLevelFire.objects.filter(clock=clock)
                     .values_list("percent", "scheduled_at"))
    assert scheduled[80] == datetime(2026, 3, 9, 9, 18, tzinfo=UTC)


# --- escalation actions -------------------------------------------------------------------

def test_breach_reassigns_to_the_configured_team_and_raises_priority(ticket, staffed):
    policy = make_policy(level_overrides={100: {"reassign_to_team": team("l2-technical"),
                                                "raise_priority": True}})
    clock = start_clock(ticket, policy)
    fire_at(T0 + HOUR)
    ticket.refresh_from_db()
    assert ticket.priority == 2
    assert ticket.team == team("l2-technical")
    # The L1 agent is not in L2: the ticket goes to the L2 queue, not to them.
    assert ticket.assignee is None
    changes = {(e.field, e.before, e.after) for e in
               TicketEvent.objects.filter(ticket=ticket, kind="field", actor__isnull=True)}
    assert ("priority", "P3", "P2") in changes
    assert ("team", "L1 General", "L2 Technical") in changes
    assert fired_percents(clock) == [50, 80, 90, 100]
    fire_at(T0 + HOUR + timedelta(minutes=1))  # and only once
    ticket.refresh_from_db()
    assert ticket.priority == 2


def test_reassign_keeps_an_assignee_who_is_in_the_new_team(ticket, staffed):
    policy = make_policy(level_overrides={90: {"reassign_to_team": team("l2-technical")}})
    Ticket.objects.filter(pk=ticket.pk).update(assignee=staffed["l2_agent"])
    start_clock(ticket, policy)
    fire_at(T0 + 55 * timedelta(minutes=1))
    ticket.refresh_from_db()
    assert ticket.team == team("l2-technical")
    assert ticket.assignee == staffed["l2_agent"]


def test_raise_priority_never_goes_above_p1(ticket):
    Ticket.objects.filter(pk=ticket.pk).update(priority=1)
    policy = make_policy(level_overrides={100: {"raise_priority": True},
                                           200: {"raise_priority": True}})
    start_clock(ticket, policy)
    fire_at(T0 + 3 * HOUR)
    ticket.refresh_from_db()
    assert ticket.priority == 1
    assert not TicketEvent.objects.filter(ticket=ticket, field="priority").exists()


def test_a_refused_escalation_still_fires_and_notifies(ticket, policy, staffed, monkeypatch):
    import tickets.services

    def refuse(*args, **kwargs):
        raise tickets.services.TransitionError("The ticket changed meanwhile.")

    monkeypatch.setattr(tickets.services, "update_ticket", refuse)
    Level.objects.filter(policy=policy, percent=100).update(raise_priority=True)
    clock = start_clock(ticket, policy)
    fire_at(T0 + HOUR)
    assert fired_percents(clock) == [50, 80, 90, 100]
    assert f"sla:{clock.pk}:100:{staffed['agent'].pk}" in notes_for(staffed["agent"])


# --- which clocks fire ----------------------------------------------------------------------

@pytest.mark.parametrize("state", [ClockState.PAUSED, ClockState.MET, ClockState.EXEMPT])
def test_paused_and_finished_clocks_never_fire(ticket, policy, state):
    # A stale next level on a clock that no longer runs (the scan must not act on it).
    clock = start_clock(ticket, policy, state=state,
                        completed_at=None if state == ClockState.PAUSED else T0)
    fire_at(T0 + 5 * HOUR)
    assert fired_percents(clock) == []
    assert not Notification.objects.exists()
    clock.refresh_from_db()
    assert clock.next_level_at is None  # and it leaves the scan instead of being re-read
    with CaptureQueriesContext(connection) as ctx:
        fire_at(T0 + 6 * HOUR)
    assert len([q for q in ctx.captured_queries if "sla_clock" in q["sql"]]) == 1


def test_a_completed_running_clock_never_fires(ticket, policy):
    clock = start_clock(ticket, policy, completed_at=T0 + timedelta(minutes=10))
    fire_at(T0 + 2 * HOUR)
    assert fired_percents(clock) == []


def test_a_resumed_clock_fires_from_its_new_instants(ticket, policy):
    """Business time used before a pause counts; the pause itself does not."""
    resumed = T0 + 3 * HOUR
    clock = start_clock(ticket, policy, started=resumed, business_used=timedelta(minutes=40))
    clock.next_level_at, clock.next_level_percent = resumed, 50  # 50% was reached before
    clock.save()
    fire_at(resumed + timedelta(minutes=9))
    assert fired_percents(clock) == [50, 80]
    clock.refresh_from_db()
    assert clock.next_level_percent == 90
    assert clock.next_level_at == resumed + timedelta(minutes=14)


# --- who is told --------------------------------------------------------------------------

def test_notifications_go_to_the_right_people_once(ticket, staffed, director):
    policy = make_policy()
    Level.objects.get(policy=policy, percent=200).notify_users.add(director)
    clock = start_clock(ticket, policy)
    agent, lead, manager = staffed["agent"], staffed["lead"], staffed["manager"]
    other_lead = make_user(Role.TEAM_LEAD, teams=(team("l2-technical"),), lead=True)
    fire_at(T0 + 30 * timedelta(minutes=1))
    assert not Notification.objects.exists()  # yellow is for the queue only
    fire_at(T0 + 48 * timedelta(minutes=1))
    assert notes_for(agent) == [f"sla:{clock.pk}:80:{agent.pk}"]
    assert notes_for(lead) == []
    fire_at(T0 + 54 * timedelta(minutes=1))
    assert notes_for(lead) == [f"sla:{clock.pk}:90:{lead.pk}"]
    assert notes_for(manager) == []
    fire_at(T0 + HOUR)
    assert notes_for(manager) == [f"sla:{clock.pk}:100:{manager.pk}"]
    fire_at(T0 + 2 * HOUR)
    # The director is also a manager: told once for the 200% level, not twice.
    assert notes_for(director) == [f"sla:{clock.pk}:100:{director.pk}",
                                   f"sla:{clock.pk}:200:{director.pk}"]
    assert notes_for(other_lead) == []
    assert notes_for(staffed["l2_agent"]) == []
    # 80: agent; 90: agent, lead; 100: agent, lead, two managers; 200: two managers.
    assert Notification.objects.count() == 1 + 2 + 4 + 2


def test_notification_wording_link_and_urgency(ticket, policy, staffed):
    agent = staffed["agent"]
    agent.time_zone = "Europe/Berlin"
    agent.save()
    Ticket.objects.filter(pk=ticket.pk).update(priority=1)
    start_clock(ticket, policy)
    fire_at(T0 + HOUR)
    notes = {n.dedupe_key.split(":")[2]: n for n in Notification.objects.filter(recipient=agent)}
    # Due 14:00 UTC = 15:00 in Berlin.
    assert notes["80"].title == f"SLA 80%: #{ticket.pk} First response due 15:00"
    assert notes["100"].title == f"SLA breached: #{ticket.pk} First response was due 15:00"
    assert notes["80"].url == reverse("agent:ticket", args=[ticket.pk])
    assert notes["80"].source == "sla.level"
    assert all(n.urgent for n in notes.values())
    assert ticket.subject in notes["80"].body


def test_notification_wording_is_in_each_recipients_language(ticket, policy, staffed):
    """The agent chose German, the lead did not: one scan writes both wordings."""
    agent, lead = staffed["agent"], staffed["lead"]
    agent.language, agent.time_zone = "de", "Europe/Berlin"
    agent.save()
    start_clock(ticket, policy)
    fire_at(T0 + HOUR)
    german = {n.dedupe_key.split(":")[2]: n
              for n in Notification.objects.filter(recipient=agent)}
    assert german["80"].title == f"SLA 80 %: #{ticket.pk} Erste Antwort fällig 15:00"
    assert german["100"].title == f"SLA verletzt: #{ticket.pk} Erste Antwort war fällig 15:00"
    assert "des Ziels „Erste Antwort“ sind verstrichen." in german["80"].body
    english = Notification.objects.get(recipient=lead, dedupe_key__endswith=f":100:{lead.pk}")
    assert english.title.startswith(f"SLA breached: #{ticket.pk} First response was due")
    assert "of the “First response” target has elapsed." in english.body


def test_not_urgent_below_p1_and_inactive_people_are_skipped(ticket, policy, staffed):
    staffed["lead"].is_active = False
    staffed["lead"].save()
    start_clock(ticket, policy)
    fire_at(T0 + 55 * timedelta(minutes=1))
    assert notes_for(staffed["lead"]) == []
    assert not Notification.objects.filter(urgent=True).exists()


def test_an_existing_fire_row_means_someone_else_fired_it(ticket, policy, staffed):
    clock = start_clock(ticket, policy, started=T0 - timedelta(minutes=20))
    clock.next_level_at, clock.next_level_percent = T0 + timedelta(minutes=28), 80
    clock.save()
    ClockLevelFire.objects.create(clock=clock, percent=50, scheduled_at=T0 + timedelta(
        minutes=10), fired_at=T0 + timedelta(minutes=10))
    ClockLevelFire.objects.create(clock=clock, percent=80, scheduled_at=T0 + timedelta(
        minutes=28), fired_at=T0 + timedelta(minutes=28))
    fire_at(T0 + timedelta(minutes=30))  # e.g. a worker that crashed before moving the clock
    assert not Notification.objects.exists()
    assert not ClockEvent.objects.filter(clock=clock).exists()
    clock.refresh_from_db()
    assert clock.next_level_percent == 90


def test_a_retried_level_does_not_notify_twice(ticket, policy, staffed):
    """Even if the fire row were lost, the notification dedupe key holds."""
    clock = start_clock(ticket, policy)
    fire_at(T0 + 50 * timedelta(minutes=1))
    ClockLevelFire.objects.filter(clock=clock, percent=80).delete()
    Clock.objects.filter(pk=clock.pk).update(next_level_at=T0 + 48 * timedelta(minutes=1),
                                             next_level_percent=80)
    fire_at(T0 + 50 * timedelta(minutes=1))
    assert notes_for(staffed["agent"]) == [f"sla:{clock.pk}:80:{staffed['agent'].pk}"]


def test_a_refired_level_tells_only_those_not_told_yet(ticket, policy, staffed):
    clock = start_clock(ticket, policy)
    fire_at(T0 + 55 * timedelta(minutes=1))
    lead_note = Notification.objects.get(dedupe_key=f"sla:{clock.pk}:90:{staffed['lead'].pk}")
    lead_note.delete()  # as if the lead's insert had been lost with the fire row
    ClockLevelFire.objects.filter(clock=clock, percent=90).delete()
    Clock.objects.filter(pk=clock.pk).update(next_level_at=T0 + 54 * timedelta(minutes=1),
                                             next_level_percent=90)
    fire_at(T0 + 56 * timedelta(minutes=1))
    assert notes_for(staffed["lead"]) == [f"sla:{clock.pk}:90:{staffed['lead'].pk}"]
    assert notes_for(staffed["agent"]) == [f"sla:{clock.pk}:{p}:{staffed['agent'].pk}"
                                           for p in (80, 90)]


def test_each_notification_is_emailed_once(ticket, policy, staffed,
                                           django_capture_on_commit_callbacks):
    from django.core import mail

    start_clock(ticket, policy)
    with django_capture_on_commit_callbacks(execute=True):
        fire_at(T0 + 55 * timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        fire_at(T0 + 55 * timedelta(minutes=1))
    sent = sorted((m.to[0], m.subject) for m in mail.outbox)
    assert len(sent) == 3  # 80: agent; 90: agent and lead
    assert {to for to, _ in sent} == {staffed["agent"].email, staffed["lead"].email}
    assert all(n.emailed_at for n in Notification.objects.all())


def test_ticket_and_clock_agree_with_the_clock_services(ticket, policy):
    """The batch writes what sla.services would: same next level, same ticket colour."""
    from sla import services

    first = start_clock(ticket, policy, target=HOUR)
    start_clock(ticket, policy, metric=Metric.RESOLUTION, target=8 * HOUR)
    for minutes in (31, 49, 61, 250, 500):
        fire_at(T0 + timedelta(minutes=minutes))
        ticket.refresh_from_db()
        before = (ticket.sla_due_at, ticket.sla_level)
        for clock in Clock.objects.filter(ticket=ticket):
            expected = (clock.next_level_at, clock.next_level_percent)
            services.refresh_next_level(clock)
            assert (clock.next_level_at, clock.next_level_percent) == expected
        services.sync_ticket(ticket.pk)
        ticket.refresh_from_db()
        assert (ticket.sla_due_at, ticket.sla_level) == before
    assert ticket.sla_due_at == first.due_at  # the breached first response stays earliest
    assert ticket.sla_level == "severe"


# --- cost -----------------------------------------------------------------------------------

def test_the_scan_does_not_grow_with_clocks_that_are_not_due(ticket, policy, customer_a):
    with time_machine.travel(T0, tick=False):
        others = [make_ticket(customer_a) for _ in range(3)]
    Clock.objects.filter(ticket__in=others).delete()
    cycles = iter(range(10, 1000))

    def add_not_due(count: int) -> None:
        for i in range(count):
            start_clock(others[i % 3], policy, started=T0 + 10 * HOUR, cycle=next(cycles))

    def scan_one_due_clock(started: datetime) -> int:
        """Queries of a scan that finds one clock crossing 50% (and telling nobody)."""
        clock = start_clock(ticket, policy, started=started, cycle=next(cycles))
        with CaptureQueriesContext(connection) as ctx, time_machine.travel(
                started + timedelta(minutes=31), tick=False):
            assert escalation.fire_due_levels() == 1
        assert fired_percents(clock) == [50]
        Clock.objects.filter(pk=clock.pk).update(next_level_at=None)
        return len(ctx.captured_queries)

    add_not_due(5)
    few = scan_one_due_clock(T0)
    add_not_due(100)
    assert scan_one_due_clock(T0 + HOUR) == few


def test_the_scan_reads_only_due_clocks_through_the_indexed_column(ticket, policy):
    start_clock(ticket, policy, started=T0 + HOUR)
    with CaptureQueriesContext(connection) as ctx, time_machine.travel(T0, tick=False):
        assert escalation.fire_due_levels() == 0
    selects = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("SELECT")]
    assert len(selects) == 1  # nothing due: one indexed query, nothing else
    sql = selects[0]
    assert '"sla_clock"."next_level_at" IS NOT NULL' in sql
    assert '"sla_clock"."next_level_at" <=' in sql
    assert "ORDER BY" in sql and "LIMIT" in sql
    if connection.vendor == "postgresql":
        assert "FOR UPDATE OF" in sql and "SKIP LOCKED" in sql


def test_one_failing_clock_does_not_stop_the_others(ticket, policy, customer_a, monkeypatch):
    with time_machine.travel(T0, tick=False):
        other = make_ticket(customer_a)
    Clock.objects.filter(ticket=other).delete()
    bad = start_clock(ticket, policy)
    good = start_clock(other, policy)
    real = escalation._notifications

    def flaky(clock, *args, **kwargs):
        if clock.pk == bad.pk:
            raise RuntimeError("boom")
        return real(clock, *args, **kwargs)

    monkeypatch.setattr(escalation, "_notifications", flaky)
    fire_at(T0 + timedelta(minutes=31))
    assert fired_percents(good) == [50]
    assert fired_percents(bad) == []  # rolled back, still due for the next scan
    good.refresh_from_db()
    assert good.next_level_percent == 80
    monkeypatch.setattr(escalation, "_notifications", real)
    fire_at(T0 + timedelta(minutes=32))
    assert fired_percents(bad) == [50]


# --- the Celery task ------------------------------------------------------------------------

def test_beat_runs_the_scan_every_minute():
    entry = settings.CELERY_BEAT_SCHEDULE["sla-scan-due-clocks"]
    assert entry["task"] == scan_due_clocks.name == "sla.tasks.scan_due_clocks"
    assert entry["schedule"] == 60.0


def test_the_task_works_through_a_backlog_in_batches(customer_a, policy, staffed, monkeypatch):
    import sla.tasks

    monkeypatch.setattr(sla.tasks, "BATCH", 2)
    with time_machine.travel(T0, tick=False):
        tickets = [make_ticket(customer_a) for _ in range(5)]
    Clock.objects.all().delete()
    clocks = [start_clock(t, policy) for t in tickets]
    with time_machine.travel(T0 + timedelta(minutes=50), tick=False):
        assert scan_due_clocks.delay().get() == 5
        assert scan_due_clocks.delay().get() == 0  # a duplicated beat: nothing left
    assert [fired_percents(c) for c in clocks] == [[50, 80]] * 5


def test_the_task_is_bounded(customer_a, policy, monkeypatch):
    import sla.tasks

    monkeypatch.setattr(sla.tasks, "BATCH", 1)
    monkeypatch.setattr(sla.tasks, "MAX_ROUNDS", 2)
    with time_machine.travel(T0, tick=False):
        tickets = [make_ticket(customer_a) for _ in range(3)]
    Clock.objects.all().delete()
    for t in tickets:
        start_clock(t, policy)
    with time_machine.travel(T0 + timedelta(minutes=31), tick=False):
        assert scan_due_clocks() == 2
        assert scan_due_clocks() == 1

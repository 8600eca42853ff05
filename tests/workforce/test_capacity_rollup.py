"""The capacity page's rollups (`workforce.rollup`: arrivals per hour, team and channel;
handle-time counts per day, team and priority) give the figures the live queries give:
the arrival history for every team and channel filter, the queued / deferred split, the
monthly staffing table, for periods the rollup holds wholly, in part or not at all, and
after late changes (a time entry logged, edited or deleted, a ticket moved to another
team, resolved late, deleted) once the sync has run.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from helpdesk.roles import Role
from tickets.models import Channel, Ticket, TimeEntry
from workforce import capacity, rollup
from workforce.models import ArrivalHour, CapacityRollupState, CapacityStaleDay, HandleDay

from ..factories import make_ticket, make_user
from ..factories import team as make_team

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)
NOW = datetime(2026, 3, 20, 12, 30, tzinfo=UTC)
START = datetime(2026, 3, 1, tzinfo=UTC)
CHANNELS = [Channel.WEB, Channel.EMAIL, Channel.CHAT, Channel.PHONE, Channel.API]


@pytest.fixture
def clock():
    machines: list = []

    def go(when: datetime) -> None:
        if machines:
            machines[-1].stop()
        machines.append(time_machine.travel(when, tick=False))
        machines[-1].start()

    go(NOW)
    yield go
    machines[-1].stop()


@pytest.fixture
def history(clock, customer_a, l1, l2):
    """Tickets over March 1-20 (today, the 20th, included), across two teams and none,
    every channel and four priorities; two thirds resolved, half of those with logged
    minutes (one entry without minutes: a running timer)."""
    agent = make_user(Role.AGENT, teams=(l1, l2), username="timer")
    l3 = make_team("l3-specialty")
    teams = [l1, l2, None, l3]
    tickets = []
    for k in range(120):
        created = START + timedelta(hours=k * 3.9 + 0.25, minutes=k % 7)
        t = make_ticket(customer_a, subject=f"T{k}")
        fields = {"created_at": created, "team": teams[k % 4], "channel": CHANNELS[k % 5],
                  "priority": 1 + (k // 4) % 4, "updated_at": created}
        if k % 3:
            fields["resolved_at"] = created + timedelta(minutes=20 + 13 * (k % 11))
        Ticket.objects.filter(pk=t.pk).update(**fields)
        if k % 3 and (k // 3) % 2:
            TimeEntry.objects.create(ticket=t, agent=agent, minutes=5 + k % 17,
                                     started_at=created, ended_at=created + H)
            if k % 5 == 1:
                TimeEntry.objects.create(ticket=t, agent=agent, minutes=3,
                                         started_at=created + H, ended_at=created + 2 * H)
        if k == 7:
            TimeEntry.objects.create(ticket=t, agent=make_user(Role.AGENT, username="running"),
                                     started_at=created)
        tickets.append(t)
    assert Ticket.objects.filter(created_at__gte=NOW).count() == 0
    return {"tickets": tickets, "agent": agent, "teams": teams}


@pytest.fixture
def live(monkeypatch):
    """Run a function as if no rollup existed: every period read from the tickets."""
    def call(fn, *args, **kwargs):
        with monkeypatch.context() as m:
            m.setattr(rollup, "_split", lambda start, end: (None, [(start, end)]
                                                            if start < end else []))
            return fn(*args, **kwargs)
    return call


PERIODS = [
    (START, START + timedelta(weeks=2)),  # wholly stored
    (START + timedelta(hours=5), START + timedelta(days=3, hours=7)),  # ragged edges
    (datetime(2026, 3, 9, tzinfo=UTC), NOW + 5 * H),  # runs into today and the future
    (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 4, tzinfo=UTC)),  # starts before
    (NOW - 3 * H, NOW),  # today only: nothing stored
]


def staffing(rows):
    return [(r.team.pk, r.tickets, {p: round(m, 6) for p, m in r.handle_minutes.items()},
             {p: round(f, 6) for p, f in r.required.items()}, r.handle_tracked,
             r.handle_measured, r.handle_source) for r in rows]


def assert_equal_to_live(live, teams):
    for start, end in PERIODS:
        for team in [None, *teams]:
            for channel in [None, "chat", ["web", "email"], ["api"]]:
                kwargs = {"team": team, "channel": channel, "start": start, "end": end}
                assert capacity.hourly_arrivals(**kwargs) == \
                    live(capacity.hourly_arrivals, **kwargs), (start, team, channel)
            kwargs = {"team": team, "start": start, "end": end}
            assert capacity.hourly_arrivals_by_group(**kwargs) == \
                live(capacity.hourly_arrivals_by_group, **kwargs)
        assert rollup.handle_stats(start, end) == live(rollup.handle_stats, start, end)
    for month in (date(2026, 3, 1), date(2026, 2, 1)):
        assert staffing(capacity.monthly_staffing(month)) == \
            staffing(live(capacity.monthly_staffing, month))


def test_the_rollup_gives_the_live_figures(history, live, l1, l2):
    written = rollup.rebuild(days=30)
    assert written == ArrivalHour.objects.count() + HandleDay.objects.count() > 0
    state = CapacityRollupState.objects.get()
    assert (state.covered_from, state.covered_to) == (date(2026, 2, 18), date(2026, 3, 20))
    # Today is not stored: it is still being written.
    assert not ArrivalHour.objects.filter(hour__gte=datetime(2026, 3, 20, tzinfo=UTC)).exists()
    assert sum(ArrivalHour.objects.values_list("tickets", flat=True)) == Ticket.objects.filter(
        created_at__lt=datetime(2026, 3, 20, tzinfo=UTC)).count()
    # The figures are not trivial: tracked and untracked, several teams and priorities.
    march = rollup.handle_stats(START, NOW)
    assert sum(c["tracked"] for c in march.values()) > 10
    assert sum(c["untracked"] for c in march.values()) > 10
    assert len(march) >= 12
    assert_equal_to_live(live, [l1, l2, l1.pk, history["teams"][3]])


def test_late_changes_reach_the_rollup_at_the_next_sync(history, live, clock, l1, l2):
    rollup.rebuild(days=30)
    tickets = history["tickets"]
    clock(NOW + timedelta(minutes=6))
    # A time entry's minutes corrected, another deleted, one logged on an old ticket:
    # none touches the ticket, each marks the ticket's opening day.
    entry = TimeEntry.objects.filter(ticket=tickets[4]).first()
    entry.minutes = 240
    entry.save()
    TimeEntry.objects.filter(ticket=tickets[23]).first().delete()
    TimeEntry.objects.create(ticket=tickets[50], agent=history["agent"], minutes=44,
                             started_at=timezone.now() - H, ended_at=timezone.now())
    assert set(CapacityStaleDay.objects.values_list("day", flat=True)) == {
        date(2026, 3, 1), date(2026, 3, 4), date(2026, 3, 9)}
    # A ticket moved to another team, one resolved late, one deleted.
    Ticket.objects.filter(pk=tickets[9].pk).update(team=l1, updated_at=timezone.now())
    Ticket.objects.filter(pk=tickets[12].pk).update(
        resolved_at=timezone.now(), updated_at=timezone.now())
    Ticket.objects.get(pk=tickets[30].pk).delete()
    assert CapacityStaleDay.objects.filter(day=date(2026, 3, 5)).exists()
    before = staffing(capacity.monthly_staffing(date(2026, 3, 1)))
    rollup.sync()
    assert not CapacityStaleDay.objects.exists()
    assert staffing(capacity.monthly_staffing(date(2026, 3, 1))) != before
    assert_equal_to_live(live, [l1, l2, history["teams"][3]])


def test_the_sync_adds_the_days_that_end_and_builds_when_never_built(history, live, clock,
                                                                     customer_a, l1, l2):
    assert rollup.sync() > 0  # never built: a rebuild
    assert CapacityRollupState.objects.get().covered_to == date(2026, 3, 20)
    clock(datetime(2026, 3, 22, 1, tzinfo=UTC))
    t = make_ticket(customer_a, subject="Late")
    Ticket.objects.filter(pk=t.pk).update(created_at=datetime(2026, 3, 21, 9, tzinfo=UTC),
                                          team=l2, channel=Channel.CHAT)
    rollup.sync()
    state = CapacityRollupState.objects.get()
    assert state.covered_to == date(2026, 3, 22)
    assert ArrivalHour.objects.filter(hour=datetime(2026, 3, 21, 9, tzinfo=UTC), team_id=l2.pk,
                                      channel="chat", tickets=1).exists()
    assert_equal_to_live(live, [l1, l2])


def test_a_sync_cut_short_resumes_where_it_stopped(history, clock, monkeypatch):
    rollup.rebuild(days=30)
    monkeypatch.setattr(rollup, "MAX_DAYS_PER_SYNC", 2)
    clock(datetime(2026, 3, 25, 1, tzinfo=UTC))  # five days ended since
    rollup.sync()
    assert CapacityRollupState.objects.get().covered_to == date(2026, 3, 22)
    rollup.sync()
    rollup.sync()
    assert CapacityRollupState.objects.get().covered_to == date(2026, 3, 25)


def test_the_command_and_the_tasks_rebuild_and_sync(history, capsys):
    from workforce import tasks

    call_command("rebuild_capacity_rollup", "--days", "10")
    assert "Capacity rollup: 10 days" in capsys.readouterr().out
    assert CapacityRollupState.objects.get().covered_from == date(2026, 3, 10)
    assert tasks.rebuild_capacity_rollup(20) > 0
    assert CapacityRollupState.objects.get().covered_from == date(2026, 2, 28)
    assert tasks.sync_capacity_rollup() >= 0


def test_the_stored_reads_take_few_queries(history, django_assert_num_queries, l1):
    rollup.rebuild(days=60)
    # Coverage, the stored rows; the live tail (today) one more.
    with django_assert_num_queries(2):
        capacity.hourly_arrivals_by_group(team=l1, start=START, end=START + timedelta(weeks=2))
    with django_assert_num_queries(3):
        capacity.hourly_arrivals(team=l1, start=START, end=NOW)
    # Teams, coverage, the stored days, today's two live aggregates, members, hires.
    with django_assert_num_queries(7):
        capacity.monthly_staffing(date(2026, 3, 1))
    with django_assert_num_queries(5):  # February: wholly stored
        capacity.monthly_staffing(date(2026, 2, 1))


def test_the_capacity_page_reads_the_rollup(history, client, l1):
    rollup.rebuild(days=30)
    lead = make_user(Role.TEAM_LEAD, teams=(l1,), lead=True, username="capacitylead")
    client.force_login(lead)
    response = client.get(reverse("workforce_capacity:dashboard"),
                          {"team": l1.pk, "week": "2026-03-16"})
    assert response.status_code == 200
    rows = {r.team.pk: r for r in response.context["monthly"]}
    expected = {p: n for (team, p), c in rollup.handle_stats(START, NOW).items()
                if team == l1.pk for n in [c["tickets"]]}
    assert rows[l1.pk].tickets == expected and sum(expected.values()) == 30

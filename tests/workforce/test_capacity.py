"""Capacity: arrival history from tickets, stored forecasts and their accuracy, handle time
(the elapsed-time fallback), staffing plan arithmetic, coverage classes, the ramp model, the
monthly staffing table and the capacity page."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from helpdesk.models import Team
from helpdesk.roles import Role
from tickets.models import Channel, Ticket, TimeEntry
from workforce import capacity, erlang
from workforce.models import ForecastPoint, Hire, ScheduledShift, TeamCapacity

from ..factories import make_ticket, make_user, team

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)
H = timedelta(hours=1)


def ticket_at(requester, created_at, *, team_=None, channel=Channel.WEB, priority=3,
              resolved_after=None):
    t = make_ticket(requester, channel=channel)
    fields = {"created_at": created_at, "team": team_, "channel": channel, "priority": priority}
    if resolved_after is not None:
        fields["resolved_at"] = created_at + resolved_after
    Ticket.objects.filter(pk=t.pk).update(**fields)
    return t


def cap(**kwargs) -> capacity.Capacity:
    values = dict(utilization=0.5, shrinkage=0.3, service_level=0.8, answer_target_seconds=20,
                  max_occupancy=1.0, productive_minutes_per_fte=360, configured=True)
    values.update(kwargs)
    return capacity.Capacity(**values)


# --- history ------------------------------------------------------------------------------

@pytest.mark.django_db
def test_hourly_arrivals_counts_per_hour_by_team_and_channel(customer_a, l1, l2):
    ticket_at(customer_a, MONDAY + timedelta(minutes=5), team_=l1)
    ticket_at(customer_a, MONDAY + timedelta(minutes=55), team_=l1, channel=Channel.CHAT)
    ticket_at(customer_a, MONDAY + 2 * H + timedelta(minutes=1), team_=l1)
    ticket_at(customer_a, MONDAY + 2 * H, team_=l2)
    ticket_at(customer_a, MONDAY + 4 * H, team_=l1)  # outside [start, end)

    assert capacity.hourly_arrivals(team=l1, start=MONDAY, end=MONDAY + 4 * H) == [2, 0, 1, 0]
    assert capacity.hourly_arrivals(start=MONDAY, end=MONDAY + 4 * H) == [2, 0, 2, 0]
    assert capacity.hourly_arrivals(team=l1, channel="chat", start=MONDAY,
                                    end=MONDAY + 2 * H) == [1, 0]
    assert capacity.hourly_arrivals(team=l1, channel=["web", "email"], start=MONDAY,
                                    end=MONDAY + 3 * H) == [1, 0, 1]
    queued, deferred = capacity.hourly_arrivals_by_group(team=l1, start=MONDAY,
                                                         end=MONDAY + 3 * H)
    assert queued == [1, 0, 0] and deferred == [1, 0, 1]


@pytest.mark.django_db
def test_hourly_arrivals_is_two_queries(django_assert_num_queries, l1):
    # The rollup's coverage, then the tickets (no rollup built: all of it is live).
    with django_assert_num_queries(2):
        capacity.hourly_arrivals(team=l1, start=MONDAY, end=MONDAY + 24 * H)


# --- stored forecasts -----------------------------------------------------------------------

@pytest.mark.django_db
def test_make_forecast_stores_the_run_and_its_points_and_accuracy_compares_actuals(
        customer_a, l1):
    # One ticket every Monday 09:00 for two weeks before the forecast: the seasonal forecast
    # expects 1 ticket on Monday 09:00 of the forecast week and 0 elsewhere.
    for week in (1, 2):
        ticket_at(customer_a, MONDAY - timedelta(weeks=week) + 9 * H, team_=l1)
    with time_machine.travel(MONDAY, tick=False):
        run = capacity.make_forecast(team=l1, method="moving_average", starts_at=MONDAY,
                                     history_weeks=2)
    assert run.hours == 168 and run.points.count() == 168
    assert ForecastPoint.objects.get(run=run, hour=MONDAY + 9 * H).expected == pytest.approx(1)
    assert capacity.forecast_accuracy(run) is None  # nothing has happened yet

    # Two tickets arrive at 09:00 instead of one: |2 - 1| / 2 = 50 % error.
    ticket_at(customer_a, MONDAY + 9 * H, team_=l1)
    ticket_at(customer_a, MONDAY + 9 * H + timedelta(minutes=30), team_=l1)
    with time_machine.travel(MONDAY + 12 * H, tick=False):
        assert capacity.forecast_accuracy(run) == pytest.approx(0.5)


@pytest.mark.django_db
def test_make_forecast_refuses_an_unknown_method(l1):
    with pytest.raises(ValueError):
        capacity.make_forecast(team=l1, method="guess", starts_at=MONDAY)


# --- handle time ------------------------------------------------------------------------------

@pytest.mark.django_db
def test_handle_minutes_is_the_labelled_elapsed_time_fallback(customer_a, l1):
    with time_machine.travel(MONDAY + 24 * H, tick=False):
        for minutes in (10, 20, 90):
            ticket_at(customer_a, MONDAY, team_=l1, priority=2,
                      resolved_after=timedelta(minutes=minutes))
        ticket_at(customer_a, MONDAY, team_=l1, priority=3, resolved_after=timedelta(hours=5))
        ticket_at(customer_a, MONDAY, team_=l1, priority=2)  # unresolved: not counted

        median = capacity.handle_minutes(l1, 2)
        assert median.minutes == pytest.approx(20) and median.sample_size == 3
        assert median.source == "elapsed time, not tracked time"
        assert capacity.handle_minutes(l1, 2, statistic="mean").minutes == pytest.approx(40)
        assert capacity.handle_minutes(l1).minutes == pytest.approx(55)  # median of 4
        empty = capacity.handle_minutes(l1, 5)
        assert empty.minutes == capacity.DEFAULT_HANDLE_MINUTES and empty.sample_size == 0


@pytest.mark.django_db
def test_handle_minutes_uses_tracked_time_where_logged_and_says_so(customer_a, agent, l1):
    with time_machine.travel(MONDAY + 24 * H, tick=False):
        logged = []
        for minutes in (10, 20, 90):  # elapsed 10/20/90 min, but 4/6/8 minutes logged
            logged.append(ticket_at(customer_a, MONDAY, team_=l1, priority=2,
                                    resolved_after=timedelta(minutes=minutes)))
        for ticket, minutes in zip(logged, (4, 6, 8), strict=True):
            TimeEntry.objects.create(ticket=ticket, agent=agent, started_at=MONDAY,
                                     ended_at=MONDAY + timedelta(minutes=minutes),
                                     minutes=minutes)
        TimeEntry.objects.create(ticket=logged[2], agent=agent, started_at=MONDAY,
                                 ended_at=MONDAY + timedelta(minutes=4), minutes=4)  # 12 in all

        median = capacity.handle_minutes(l1, 2)
        assert median.minutes == pytest.approx(6) and median.tracked == 3
        assert median.source == capacity.TRACKED_SOURCE
        mean = capacity.handle_minutes(l1, 2, statistic="mean")
        assert mean.minutes == pytest.approx((4 + 6 + 12) / 3)
        assert mean.source == capacity.TRACKED_SOURCE

        # One ticket without time entries: its elapsed time, and the label says so.
        ticket_at(customer_a, MONDAY, team_=l1, priority=2, resolved_after=timedelta(hours=2))
        mixed = capacity.handle_minutes(l1, 2, statistic="mean")
        assert mixed.minutes == pytest.approx((4 + 6 + 12 + 120) / 4)
        assert mixed.source == ("tracked time for 3 of 4 tickets; elapsed time, not tracked "
                                "time, for the 1 without time entries")
        assert capacity.handle_minutes(l1, 2).minutes == pytest.approx(9)  # 4, 6, 12, 120


@pytest.mark.django_db
def test_monthly_staffing_prefers_tracked_time(customer_a, agent, l1):
    for k in range(4):
        created = datetime(2026, 3, 2, 9, tzinfo=UTC) + k * H
        ticket = ticket_at(customer_a, created, team_=l1, priority=3,
                           resolved_after=timedelta(hours=10))
        if k < 3:
            TimeEntry.objects.create(ticket=ticket, agent=agent, started_at=created,
                                     ended_at=created + timedelta(minutes=20), minutes=20)
    row = next(r for r in capacity.monthly_staffing(date(2026, 3, 15)) if r.team == l1)
    assert row.handle_minutes[3] == pytest.approx((3 * 20 + 600) / 4)
    assert row.handle_source == ("tracked time for 3 of 4 tickets; elapsed time, not tracked "
                                 "time, for the 1 without time entries")


@pytest.mark.django_db
def test_capacity_page_labels_tracked_handle_time(client, customer_a, agent, l1):
    with time_machine.travel(MONDAY - 7 * 24 * H, tick=False):
        created = MONDAY - 8 * 24 * H
        ticket = ticket_at(customer_a, created, team_=l1, resolved_after=timedelta(hours=30))
        TimeEntry.objects.create(ticket=ticket, agent=agent, started_at=created,
                                 ended_at=created + timedelta(minutes=25), minutes=25)
    client.force_login(agent)
    with time_machine.travel(MONDAY, tick=False):
        response = client.get(reverse(URL), {"team": l1.pk, "week": "2026-03-04"})
    html = response.content.decode()
    assert "tracked time (minutes logged on the tickets)" in html
    assert "does not exist yet" not in html
    assert response.context["handle"].minutes == pytest.approx(25)


# --- capacity settings ---------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("slug, utilization", [
    ("l1-general", 0.70), ("l2-technical", 0.65), ("l2-enterprise", 0.55),
    ("l3-specialty", 0.65),
])
def test_capacity_defaults_by_tier(slug, utilization):
    settings = capacity.capacity_for(team(slug))
    assert settings.utilization == utilization
    assert settings.shrinkage == 0.30
    assert not settings.configured


@pytest.mark.django_db
def test_capacity_row_overrides_the_tier_defaults(l1):
    TeamCapacity.objects.create(team=l1, utilization=Decimal("0.60"), shrinkage=Decimal("0.25"))
    settings = capacity.capacity_for(l1)
    assert (settings.utilization, settings.shrinkage, settings.configured) == (0.6, 0.25, True)


# --- coverage classes ---------------------------------------------------------------------

@pytest.mark.parametrize("coverage, css", [
    (0.0, "gap-red"), (0.49, "gap-red"), (0.5, "gap-amber"), (0.99, "gap-amber"),
    (1.0, "ok"), (1.7, "ok"), (None, "ok"),
])
def test_gap_classes(coverage, css):
    assert capacity.gap_class(coverage) == css


# --- staffing plan arithmetic -------------------------------------------------------------

def test_plan_interval_combines_erlang_for_chat_and_fte_for_email():
    # Queued: 200 chats in the hour -> 100 per half hour, AHT 3 min = 180 s -> A = 10 Erlangs;
    # 80 % within 20 s needs 14 agents (textbook), 30 % shrinkage -> ceil(14 / 0.7) = 20.
    # Deferred: 20 emails in the hour -> 10 per half hour × 3 min = 30 min of work, over 30
    # minutes at 50 % utilisation = 2 FTE, / (1 - 0.3) = 2.857.
    settings = cap()
    [first, second] = capacity.plan_intervals(
        [200], [20], [15.0, 30.0], week_start=MONDAY, capacity=settings, handle_minutes=3,
    )
    assert first.queued_arrivals == 100 and first.deferred_arrivals == 10
    assert erlang.required_agents(100, 180, 1800, 0.8, 20, shrinkage=0.3) == 20
    assert first.required == pytest.approx(20 + 2 / 0.7)
    assert first.coverage == pytest.approx(15 / (20 + 2 / 0.7))
    assert first.required_heads == 23  # 22.86 agents rounded up
    assert first.gap == "gap-amber"
    assert second.starts_at == MONDAY + timedelta(minutes=30)
    assert second.gap == "ok"


def test_plan_interval_without_arrivals_requires_nobody_and_is_ok():
    [interval, _] = capacity.plan_intervals([0], [0], [0.0, 2.0], week_start=MONDAY,
                                            capacity=cap(), handle_minutes=10)
    assert interval.required == 0 and interval.coverage is None and interval.gap == "ok"


def test_plan_interval_below_half_is_red():
    [interval, _] = capacity.plan_intervals([200], [0], [9.0, 9.0], week_start=MONDAY,
                                            capacity=cap(), handle_minutes=3)
    assert interval.required == 20 and interval.gap == "gap-red"  # 9 / 20 = 45 %


def test_scheduled_agents_are_net_of_breaks_and_prorated_at_the_edges():
    shifts = [
        (MONDAY + timedelta(hours=9, minutes=15), MONDAY + timedelta(hours=17, minutes=15), 30),
        (MONDAY + 9 * H, MONDAY + 10 * H, 0),
        (MONDAY - 2 * H, MONDAY + H, 0),  # started before the week
    ]
    counts = capacity.scheduled_agents(shifts, MONDAY)
    net = 1 - 30 / 480  # 30 minutes of break spread over an 8-hour shift
    assert counts[0] == counts[1] == 1
    assert counts[18] == pytest.approx(0.5 * net + 1)  # 09:00–09:30
    assert counts[19] == pytest.approx(net + 1)
    assert counts[20] == pytest.approx(net)
    assert counts[34] == pytest.approx(0.5 * net)  # 17:00–17:30
    assert counts[35] == 0
    assert len(counts) == 336


def test_scheduled_agents_for_short_shifts_and_shifts_past_the_week():
    week_end = MONDAY + timedelta(weeks=1)
    shifts = [
        (MONDAY + timedelta(minutes=40), MONDAY + timedelta(minutes=50), 0),  # within one
        (week_end - H, week_end + 3 * H, 0),  # runs into next week
        (week_end + H, week_end + 2 * H, 0),  # next week only
    ]
    counts = capacity.scheduled_agents(shifts, MONDAY)
    assert counts[1] == pytest.approx(1 / 3)
    assert counts[334] == counts[335] == 1
    assert sum(counts) == pytest.approx(2 + 1 / 3)


@pytest.mark.django_db
def test_staffing_plan_from_the_database(agent, lead, l1, l2):
    TeamCapacity.objects.create(team=l1, utilization=Decimal("0.50"), shrinkage=Decimal("0.30"),
                                service_level=Decimal("0.80"), answer_target_seconds=20,
                                max_occupancy=Decimal("1.00"))
    ScheduledShift.objects.create(agent=agent, team=l1, starts_at=MONDAY + 9 * H,
                                  ends_at=MONDAY + 17 * H, break_minutes=0)
    ScheduledShift.objects.create(agent=lead, team=l1, starts_at=MONDAY + 9 * H,
                                  ends_at=MONDAY + 17 * H, break_minutes=0)
    ScheduledShift.objects.create(agent=agent, team=l2, starts_at=MONDAY + 9 * H,
                                  ends_at=MONDAY + 17 * H, break_minutes=0)  # other team
    queued = [0.0] * 168
    deferred = [0.0] * 168
    queued[9] = 200  # Monday 09:00
    deferred[10] = 20  # Monday 10:00
    plan = capacity.staffing_plan(l1, MONDAY, handle=3, forecast=(queued, deferred))
    assert len(plan.intervals) == 336 and len(plan.days()) == 7
    assert plan.intervals[18].required == 20 and plan.intervals[18].scheduled == 2
    assert plan.intervals[18].gap == "gap-red"
    assert plan.intervals[20].required == pytest.approx(2 / 0.7)
    assert plan.intervals[20].gap == "gap-amber"  # 2 of 2.86
    assert plan.intervals[30].required == 0 and plan.intervals[30].gap == "ok"


# --- ramp model and monthly staffing ------------------------------------------------------------

@pytest.mark.parametrize("days_in, share", [
    (-1, 0.0), (0, 0.0), (13, 0.0),  # weeks 1–2
    (14, 0.25), (27, 0.25),  # weeks 3–4
    (28, 0.5), (41, 0.5),  # weeks 5–6
    (42, 0.75), (55, 0.75),  # weeks 7–8
    (56, 1.0), (400, 1.0),  # from week 9
])
def test_ramp_model(days_in, share):
    started = date(2026, 1, 5)
    assert capacity.ramp_factor(started, started + timedelta(days=days_in)) == share


def test_working_days_counts_monday_to_friday():
    assert capacity.working_days(date(2026, 3, 1), date(2026, 3, 31)) == 22


@pytest.mark.django_db
def test_monthly_staffing_required_vs_actual_with_ramp(
        customer_a, l1, django_assert_max_num_queries):
    march = date(2026, 3, 1)  # 22 working days
    TeamCapacity.objects.create(team=l1, utilization=Decimal("0.50"), shrinkage=Decimal("0.20"),
                                productive_minutes_per_fte=300)
    # 44 P2 tickets in March with a mean elapsed handle time of 30 minutes:
    # 2 tickets a working day × 30 min / (300 min × 0.5) = 0.4 FTE, / (1 - 0.2) = 0.5 FTE.
    for k in range(44):
        ticket_at(customer_a, datetime(2026, 3, 2, 9, tzinfo=UTC) + timedelta(hours=k), team_=l1,
                  priority=2, resolved_after=timedelta(minutes=20 if k % 2 else 40))
    ticket_at(customer_a, datetime(2026, 4, 1, tzinfo=UTC), team_=l1, priority=2)  # April
    veteran = make_user(Role.AGENT, teams=(l1,))
    newcomer = make_user(Role.AGENT, teams=(l1,))
    # Started 2026-02-16: March 1 is in week 2 (day 13) ... March 31 in week 7 (day 43).
    Hire.objects.create(agent=newcomer, team=l1, started_on=date(2026, 2, 16))
    Hire.objects.create(agent=veteran, team=l1, started_on=date(2025, 6, 1))  # long ramped
    ramp = capacity.mean_ramp(date(2026, 2, 16), march, date(2026, 3, 31))
    # day 13: 0; days 14–27 (14 days): 0.25; days 28–41: 0.5; days 42–43: 0.75
    assert ramp == pytest.approx((14 * 0.25 + 14 * 0.5 + 2 * 0.75) / 31)

    # Teams, the rollup's coverage, the month's two live aggregates (no rollup built),
    # members, hires.
    with django_assert_max_num_queries(6):
        rows = capacity.monthly_staffing(date(2026, 3, 15))
    row = next(r for r in rows if r.team == l1)
    assert row.tickets == {2: 44}
    assert row.handle_minutes[2] == pytest.approx(30)
    assert row.required[2] == pytest.approx(0.5)
    assert row.members == 2
    assert row.actual == pytest.approx(1 + ramp)
    assert row.gap_class == "ok"
    other = next(r for r in rows if r.team.slug == "l3-specialty")
    assert other.required_total == 0 and other.actual == 0 and other.coverage is None
    assert len(rows) == Team.objects.count()


# --- the page -----------------------------------------------------------------------------

URL = "workforce_capacity:dashboard"


@pytest.mark.django_db
def test_capacity_page_for_an_agent(client, agent, customer_a, l1):
    # Shifts on Tuesday only; one web ticket every Monday 10:00 in the three weeks before.
    ScheduledShift.objects.create(agent=agent, team=l1, starts_at=MONDAY + 33 * H,
                                  ends_at=MONDAY + 41 * H)
    for week in range(1, 4):
        ticket_at(customer_a, MONDAY - timedelta(weeks=week) + 10 * H, team_=l1)
    client.force_login(agent)
    response = client.get(reverse(URL), {"team": l1.pk, "week": "2026-03-04",
                                         "method": "moving_average"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<caption>Scheduled / required agents per half-hour" in html
    assert html.count('<th scope="row">Mon 2 Mar</th>') == 1
    # Monday 10:00 and 10:30: the 4-week average expects 3/4 ticket an hour, 0.375 a half hour
    # -> 0.375 × 15 min (no handle time measured) / (30 min × 0.70) / 0.7 = 0.38 agents, so one;
    # nobody is on shift.
    assert html.count('<td class="gap-red">0/1</td>') == 2
    assert '<td class="ok">1/0</td>' in html  # Tuesday: on shift, nothing expected
    assert "elapsed time, not tracked time" in html
    assert "Seasonality with trend" in html and "Monthly staffing, March 2026" in html
    assert "<style" not in html and "style=" not in html


@pytest.mark.django_db
def test_capacity_page_accepts_a_handle_time_and_method(client, agent, l1):
    client.force_login(agent)
    response = client.get(reverse(URL), {"team": l1.pk, "week": "2026-03-04",
                                         "method": "moving_average", "handle": "12"})
    assert response.status_code == 200
    assert response.context["method"] == "moving_average"
    assert response.context["plan"].handle_minutes == 12


@pytest.mark.django_db
def test_capacity_page_is_a_404_for_customers(client, customer_a):
    client.force_login(customer_a)
    assert client.get(reverse(URL)).status_code == 404


@pytest.mark.django_db
def test_capacity_page_sends_anonymous_visitors_to_log_in(client):
    response = client.get(reverse(URL))
    assert response.status_code == 302 and "login" in response["Location"]


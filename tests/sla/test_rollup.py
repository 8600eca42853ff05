"""The SLA dashboard's daily rollup (sla.rollup) gives the figures of the direct query.

On the hand-built clocks of test_dashboard (every filter, breakdown and visibility), with
a clock of the current day on top (the rollup's live part), and after late changes: a
clock repaired, a ticket reopened, a ticket moved to another team.
"""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from sla import rollup, selectors
from sla.models import Clock, ClockDay, ClockRollupState, ClockState, Metric
from sla.services.repair import repair_clocks
from sla.views import PeriodFilterForm
from tickets.models import Ticket

from ..factories import make_ticket
from .test_dashboard import FR, MIN, NOW, RES, H, _frozen, clock, dataset, put  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

BREAKDOWNS = ["week", "tier", "priority", "team", "agent", "channel"]


def filters_of(**params):
    form = PeriodFilterForm({k: str(v) for k, v in params.items()} or None)
    assert not params or form.is_valid(), form.errors
    return form.to_filters()


def both(filters, by, user):
    """(direct, from the rollup) figures; the rollup really served the second."""
    read = rollup.source(filters, user)
    assert read is not selectors.cells
    return (selectors.dashboard_figures(filters, by=by, user=user),
            selectors.dashboard_figures(filters, by=by, user=user, source=read))


@pytest.fixture
def board(request):
    """test_dashboard's clocks (its `dataset` fixture)."""
    return request.getfixturevalue("dataset")


@pytest.fixture
def today(board):
    """A first response started this morning: the current day, read from the clocks."""
    return clock(board.t2, Metric.FIRST_RESPONSE, NOW - 2 * H, FR, state=ClockState.RUNNING,
                 used=timedelta(0), done=False, cycle=2)


@pytest.mark.parametrize("by", BREAKDOWNS)
def test_the_rollup_gives_the_figures_of_the_clocks(manager, l2, board, today, by):
    written = rollup.rebuild(now=NOW)
    assert written == ClockDay.objects.count() > 0
    # Periods in the viewer's zone: whole UTC days, and days (and local weeks) that start
    # inside a UTC day, whose parts are read from the clocks.
    for zone in ("UTC", "America/New_York", "Asia/Kolkata"):
        with timezone.override(zone):
            for params in ({}, {"team": l2.pk}, {"tier": "enterprise"}, {"priority": 3},
                           {"channel": "web"}, {"start": "2026-03-10", "end": "2026-03-17"}):
                direct, rolled = both(filters_of(**params), by, manager)
                assert rolled == direct, (zone, params)
    # Not a comparison of two empty pages: the clocks of the period, today's included.
    direct, _ = both(filters_of(), by, manager)
    assert direct["totals"]["clocks"] == 9


@pytest.mark.parametrize("by", BREAKDOWNS)
def test_agents_who_see_some_tickets_read_their_teams_rows(agent, l1, l2, board, today, by):
    """An agent of l1 sees l1's tickets and their own: the rollup's l1 rows plus the
    clocks of their own tickets elsewhere (T3 of l2 assigned to them, below) give the
    figures of the clocks they see, for every breakdown and filter."""
    Ticket.objects.filter(pk=board.t3.pk).update(assignee=agent)
    rollup.rebuild(now=NOW)
    assert list(agent.team_ids) == [l1.pk]
    for zone in ("UTC", "America/New_York"):
        with timezone.override(zone):
            for params in ({}, {"team": l2.pk}, {"team": l1.pk}, {"priority": 3},
                           {"start": "2026-03-10", "end": "2026-03-17"}):
                direct, rolled = both(filters_of(**params), by, agent)
                assert rolled == direct, (zone, params)
    direct, _ = both(filters_of(team=l2.pk), by, agent)
    assert direct["totals"]["clocks"] > 0  # T3's clocks, through the assignee


def test_customers_are_never_served_by_the_rollup(customer_a, board):
    rollup.rebuild(now=NOW)
    assert rollup.source(filters_of(), customer_a) is selectors.cells


def test_a_repaired_clock_is_refreshed_at_once(manager, board, today):
    """A met first response that used 2 h of a 60 min target is a breach the repair
    records; the rollup's day of that clock is recomputed in the same run."""
    wrong = clock(board.t1, Metric.FIRST_RESPONSE, NOW - 5 * 24 * H, FR,
                  state=ClockState.MET, used=2 * H, cycle=2)
    rollup.rebuild(now=NOW)
    before = both(filters_of(), "week", manager)[1]
    report = repair_clocks()
    assert report.corrected >= 1
    wrong.refresh_from_db()
    assert wrong.state == ClockState.BREACHED
    direct, rolled = both(filters_of(), "week", manager)
    assert rolled == direct
    assert rolled["totals"]["response_breached"] == before["totals"]["response_breached"] + 1


def test_late_changes_are_folded_in_by_the_sync(manager, l1, board, today):
    rollup.rebuild(now=NOW)
    with time_machine.travel(NOW + 10 * MIN, tick=False):
        # A resolution clock of last week completes late (breached), and T2 moves from
        # team L2 to L1, which moves its old clocks in the team breakdown.
        Clock.objects.filter(pk=board.c6.pk).update(
            state=ClockState.BREACHED, completed_at=timezone.now(), updated_at=timezone.now())
        put(board.t2, team=l1, updated_at=timezone.now())
        direct, rolled = both(filters_of(), "team", manager)
        assert rolled != direct  # until the sync runs
        assert rollup.sync() > 0
        for by in BREAKDOWNS:
            direct, rolled = both(filters_of(), by, manager)
            assert rolled == direct, by


def test_a_reopened_ticket_and_the_days_that_end(manager, customer_a, board, today):
    """A reopened ticket starts a resolution cycle now: read live today, stored after
    the day ends; the day that ended joins the stored ones."""
    from tickets import services

    rollup.rebuild(now=NOW)
    ticket = put(board.t1, status="resolved", resolved_at=NOW - H)
    with time_machine.travel(NOW + 30 * MIN, tick=False):
        services.add_reply(ticket, author=customer_a, body="It is back.")
        assert Ticket.objects.get(pk=ticket.pk).status != "resolved"
        direct, rolled = both(filters_of(), "week", manager)
        assert rolled == direct
    tomorrow = NOW + 24 * H
    with time_machine.travel(tomorrow, tick=False):
        rollup.sync()
        state = ClockRollupState.objects.get()
        assert state.covered_to == timezone.localdate(tomorrow)
        assert ClockDay.objects.filter(day=timezone.localdate(NOW)).exists()
        for by in BREAKDOWNS:
            direct, rolled = both(filters_of(), by, manager)
            assert rolled == direct, by


def test_a_period_the_rollup_holds_in_part(manager, board, today):
    """Three days stored: the rest of the 30 days comes from the clocks."""
    rollup.rebuild(days=3, now=NOW)
    for by in BREAKDOWNS:
        direct, rolled = both(filters_of(), by, manager)
        assert rolled == direct, by


def test_the_dashboard_reads_the_rollup_in_few_queries(client, manager, board, today,
                                                       customer_a, l1):
    call_command("rebuild_sla_rollup", "--days", "60", stdout=io.StringIO())
    client.force_login(manager)
    with CaptureQueriesContext(connection) as first:
        response = client.get(reverse("sla:dashboard"), {"by": "team"})
    assert response.status_code == 200
    totals = response.context["totals"]
    assert totals["clocks"] == 9
    stored_reads = [q for q in first.captured_queries if "sla_clockday" in q["sql"]]
    assert len(stored_reads) == 2  # by week and by team
    cache.clear()
    for i in range(5):  # more clocks on stored days: no more queries
        ticket = put(make_ticket(customer_a, subject=f"More {i}"), team=l1)
        clock(ticket, Metric.RESOLUTION, NOW - 3 * 24 * H, RES, state=ClockState.MET,
              used=H)
    rollup.rebuild(days=60, now=NOW)
    with CaptureQueriesContext(connection) as second:
        response = client.get(reverse("sla:dashboard"), {"by": "team"})
    assert response.context["totals"]["clocks"] == 14

    def own(ctx):
        return sum("django_session" not in q["sql"] for q in ctx.captured_queries)
    assert own(second) == own(first)

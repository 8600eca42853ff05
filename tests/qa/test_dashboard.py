"""Dashboard figures on a hand-computed set of reviews."""
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from helpdesk.roles import Role
from qa import selectors, services
from qa.selectors import DashboardFilters
from tests.factories import make_user, team
from tickets.models import Survey

from .conftest import picks, resolved

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)  # a Wednesday


def _review(ticket, reviewer, data, *, at=NOW):
    with time_machine.travel(at, tick=False):
        review = services.create_review(ticket=ticket, actor=reviewer)
        return services.submit_review(review, actor=reviewer, data=data)


def _filters(**kw):
    return DashboardFilters(start=NOW - timedelta(days=28), end=NOW + timedelta(days=1), **kw)


@pytest.fixture
def reviewed(customer_a, agent, reviewer, card):
    """Scores 100, 80 and 0 (auto-fail), CSAT ratings 5, 4 and 1."""
    make_user(Role.AGENT, teams=(team("l1-general"),), username="otto")  # not reviewed
    out = []
    for data, rating in ((picks(card), 5),
                         (picks(card, {"Solution quality": 20, "Communication": 15}), 4),
                         (picks(card, auto_fail=("Offensive tone",)), 1)):
        ticket = resolved(customer_a, agent, at=NOW - timedelta(days=1))
        Survey.objects.create(ticket=ticket, resolution=0, requester=customer_a, agent=agent,
                              status=Survey.Status.RESPONDED, rating=rating,
                              scheduled_for=NOW)
        out.append(_review(ticket, reviewer, data))
    return out


def test_average_bands_and_critical_fail_rate(reviewed):
    figures = selectors.dashboard(_filters(), today=NOW.date())
    assert figures["reviews"] == 3
    assert float(figures["average"]) == pytest.approx(60.0)
    bands = {b["key"]: b["n"] for b in figures["bands"]}
    assert bands == {"excellent": 1, "good": 1, "fair": 0, "poor": 0, "critical_fail": 1}
    assert figures["critical_fail_rate"] == pytest.approx(100 / 3)


def test_coverage_counts_agents_reviewed_this_week(reviewed):
    # L1 has two agents (agnes, otto); only agnes was reviewed this week: 50 %.
    cov = selectors.dashboard(_filters(), today=NOW.date())["coverage"]
    assert (cov["agents"], cov["reviewed"], cov["percent"]) == (2, 1, 50.0)
    next_week = selectors.coverage(week_of=(NOW + timedelta(days=7)).date())
    assert next_week["reviewed"] == 0


def test_qa_csat_pearson_over_tickets_with_both(reviewed):
    # x = 100, 80, 0; y = 5, 4, 1: sxy = 220, sxx = 5600, syy = 78/9 → r ≈ 0.9986.
    corr = selectors.dashboard(_filters(), today=NOW.date())["correlation"]
    assert corr["n"] == 3
    assert corr["r"] == pytest.approx(220 / (5600 * 78 / 9) ** 0.5)
    assert corr["r"] == pytest.approx(0.9986, abs=1e-4)


def test_by_dimension_and_team(reviewed, agent):
    figures = selectors.dashboard(_filters(dimension="Solution quality"), today=NOW.date())
    dims = {d["dimension__name"]: d for d in figures["dimensions"]}
    # Auto-failed review left out: solution quality 30 and 20 → 25 of 30 = 83.3 %.
    assert list(dims) == ["Solution quality"]
    assert float(dims["Solution quality"]["avg_points"]) == 25
    assert dims["Solution quality"]["attainment"] == pytest.approx(250 / 3)
    (l1,) = figures["teams"]
    assert l1["team__name"] == team("l1-general").name and l1["n"] == 3 and l1["fails"] == 1
    assert l1["dimension_attainment"] == pytest.approx(250 / 3)
    other = selectors.dashboard(_filters(team_id=team("l2-technical").pk), today=NOW.date())
    assert other["reviews"] == 0 and other["average"] is None


def test_per_agent_improvement_rate(customer_a, agent, reviewer, card):
    # Weekly averages 70 then 80 then 90: +10 points per week.
    for weeks_ago, solution, comm in ((2, 10, 15), (1, 20, 15), (0, 30, 15)):
        ticket = resolved(customer_a, agent, at=NOW - timedelta(weeks=weeks_ago, days=1))
        _review(ticket, reviewer, picks(card, {"Solution quality": solution,
                                               "Communication": comm}),
                at=NOW - timedelta(weeks=weeks_ago))
    (trend,) = selectors.dashboard(_filters(), today=NOW.date())["trends"]
    assert (trend["first_week"], trend["last_week"]) == (70, 90)
    assert trend["per_week"] == pytest.approx(10)
    assert trend["average"] == pytest.approx(80)

"""The SLA dashboard and the paused-time report, pinned on a small hand-built data set.

Every clock is 24/7 (no calendar), so business time is wall-clock time and each expected
figure below can be checked by hand:

ticket  org (tier)       prio team assignee channel  clocks
T1      Acme (enterprise) P1  L1   agnes    email    C1 FR met 20 min        (W11)
                                                     C2 RES met 7 h          (W11)
                                                     C7 NR exempt, 200 % fired (W11)
                                                     C9 RES cycle 2 met 5 h, completed
                                                        while paused          (W11)
T2      Globex (starter)  P3  L2   leo      web      C3 FR met 50 min        (W12)
                                                     C4 RES breached 9 h, 100+200 % fired
T3      no organization   P3  L2   nobody   phone    C5 FR breached 70 min, 100 % fired
                                                     C6 RES breached, still open
        (C8: a breached clock of T2 started before the period: never counted)

First response: target 60 min, internal 45 min. Resolution: target 8 h, internal 6 h.
"""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sla.models import Clock, ClockLevelFire, ClockPause, ClockState, Metric
from tickets.models import Ticket

from ..factories import make_ticket

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)  # Friday of ISO week 12
S1 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # week 11
S2 = datetime(2026, 3, 17, 9, 0, tzinfo=UTC)  # week 12
H, MIN = timedelta(hours=1), timedelta(minutes=1)
FR = (60 * MIN, 45 * MIN)
RES = (8 * H, 6 * H)


def clock(ticket: Ticket, metric: str, start: datetime, targets: tuple, *, state: str,
          used: timedelta, done: bool = True, cycle: int = 1, paused_at_end: bool = False,
          fired: tuple[int, ...] = ()) -> Clock:
    target, internal = targets
    end = start + used
    due_at, internal_due_at = start + target, start + internal
    if paused_at_end:  # a paused clock has no due times (sla.clocks.pause)
        due_at = internal_due_at = None
    row = Clock.objects.create(
        ticket=ticket, metric=metric, cycle=cycle, state=state, target=target,
        internal_target=internal, started_at=start, business_used=used,
        due_at=due_at, internal_due_at=internal_due_at,
        segment_started_at=None if done else start,
        completed_at=end if done else None,
        met_at=end if state == ClockState.MET else None,
        breached_at=start + target if state == ClockState.BREACHED else None,
    )
    for percent in fired:
        ClockLevelFire.objects.create(clock=row, percent=percent, fired_at=NOW,
                                      scheduled_at=start + target * percent / 100)
    return row


def put(ticket: Ticket, **fields) -> Ticket:
    Ticket.objects.filter(pk=ticket.pk).update(**fields)
    return Ticket.objects.get(pk=ticket.pk)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def dataset(customer_a, customer_b, agent, l2_agent, l1, l2):
    t1 = put(make_ticket(customer_a, subject="T1"), priority=1, team=l1, assignee=agent,
             channel="email")
    t2 = put(make_ticket(customer_b, subject="T2"), priority=3, team=l2, assignee=l2_agent,
             channel="web")
    t3 = put(make_ticket(customer_a, subject="T3"), priority=3, team=l2, assignee=None,
             channel="phone", organization=None)
    Clock.objects.all().delete()  # only the hand-built clocks below
    c = SimpleNamespace(t1=t1, t2=t2, t3=t3)
    c.c1 = clock(t1, Metric.FIRST_RESPONSE, S1, FR, state=ClockState.MET, used=20 * MIN)
    c.c2 = clock(t1, Metric.RESOLUTION, S1, RES, state=ClockState.MET, used=7 * H)
    c.c7 = clock(t1, Metric.NEXT_RESPONSE, S1 + H, FR, state=ClockState.EXEMPT,
                 used=3 * H, fired=(50, 100, 200))
    c.c9 = clock(t1, Metric.RESOLUTION, S1 + 24 * H, RES, state=ClockState.MET, used=5 * H,
                 cycle=2, paused_at_end=True)
    c.c3 = clock(t2, Metric.FIRST_RESPONSE, S2, FR, state=ClockState.MET, used=50 * MIN)
    c.c4 = clock(t2, Metric.RESOLUTION, S2, RES, state=ClockState.BREACHED, used=9 * H,
                 fired=(50, 80, 90, 100, 200))
    c.c5 = clock(t3, Metric.FIRST_RESPONSE, S2, FR, state=ClockState.BREACHED,
                 used=70 * MIN, fired=(100,))
    c.c6 = clock(t3, Metric.RESOLUTION, S2, RES, state=ClockState.BREACHED, used=8 * H,
                 done=False, fired=(100,))
    c.c8 = clock(t2, Metric.NEXT_RESPONSE, datetime(2026, 2, 5, 9, tzinfo=UTC), FR,
                 state=ClockState.BREACHED, used=2 * H, fired=(200,))
    return c


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def dashboard(client, **params):
    response = client.get(reverse("sla:dashboard"), params)
    assert response.status_code == 200
    return response.context


def breakdown(client, dimension: str, **params) -> dict[str, dict]:
    context = dashboard(client, by=dimension, **params)
    assert context["breakdown"]["name"] == dimension
    return {r["group"]: r for r in context["breakdown"]["rows"]}


# --- totals -------------------------------------------------------------------------------

def test_totals_of_the_default_period(manager_client, dataset):
    totals = dashboard(manager_client)["totals"]

    assert totals["clocks"] == 8  # C1–C7 and C9; C8 started before the last 30 days
    # First response: C1, C3 met; C5 breached.
    assert (totals["response_met"], totals["response_breached"]) == (2, 1)
    assert totals["response_compliance"] == 66.7
    assert totals["response_internal_met"] == 1  # only C1 (20 min ≤ 45 min)
    assert totals["response_internal_compliance"] == 33.3
    assert totals["response_avg_used"] == timedelta(minutes=140 / 3)  # (20 + 50 + 70) / 3
    assert totals["response_avg_target"] == timedelta(minutes=60)
    assert totals["response_avg_internal_target"] == timedelta(minutes=45)
    # Resolution: C2, C9 met; C4 breached; C6 still open (not counted).
    assert (totals["resolution_met"], totals["resolution_breached"]) == (2, 1)
    assert totals["resolution_compliance"] == 66.7
    # C9 was completed while paused: 5 h used ≤ 6 h internal target. C2 took 7 h.
    assert totals["resolution_internal_met"] == 1
    assert totals["resolution_internal_compliance"] == 33.3
    assert totals["resolution_avg_used"] == timedelta(hours=7)  # (7 + 9 + 5) / 3
    assert totals["resolution_avg_target"] == timedelta(hours=8)
    # Breaches: C4, C5 and the still-open C6. Severe: C4 (C7 fired 200 % but is exempt).
    assert totals["breaches"] == 3
    assert totals["severe"] == 1
    # Leading indicator: C1 used 20 of 60 min (≤ 50 %); C3 used 50; C5 breached.
    assert totals["leading_met"] == 1
    assert totals["leading_indicator"] == 33.3


def test_a_paused_breach_counts_and_a_missed_internal_goal_stays_missed(manager_client,
                                                                        dataset):
    # C9 completed while paused with 5 h of 6 h internal used, but an internal target it
    # had earlier (a re-evaluation) was reached: not an internal success any more.
    Clock.objects.filter(pk=dataset.c9.pk).update(internal_breached_at=S1 + 26 * H)
    # A first response still waiting on the customer, past its target.
    clock(dataset.t3, Metric.NEXT_RESPONSE, S2, FR, state=ClockState.PAUSED, used=90 * MIN,
          done=False, paused_at_end=True)
    Clock.objects.filter(metric=Metric.NEXT_RESPONSE, ticket=dataset.t3).update(
        breached_at=S2 + H, segment_started_at=None, paused_at=S2 + 2 * H)
    totals = dashboard(manager_client)["totals"]
    assert totals["resolution_met"] == 2  # the contract was met all the same
    assert totals["resolution_internal_met"] == 0
    assert totals["breaches"] == 4  # C4, C5, C6 and the paused one


def test_page_shows_figures_with_their_formulas(manager_client, dataset):
    html = manager_client.get(reverse("sla:dashboard")).content.decode()

    assert "66.7 %" in html and "33.3 %" in html
    assert "= met ÷ (met + breached) = 2 ÷ 3 completed first-response clocks" in html
    assert "= first responses sent within the first half of their window ÷ completed " \
           "first responses = 1 ÷ 3" in html
    assert "46 min</strong>" in html and "against an average target of 1 h" in html
    assert "7 h</strong>" in html and "(internal 6 h)" in html
    assert "The same figures as a table" in html
    assert '<rect class="meter-fill" x="0" y="0" width="66.7" height="8">' in html
    assert "<rect class=\"bar bar-contractual\"" in html
    assert "Figures computed at" in html
    assert "style=" not in html  # strict CSP: no inline styles


def test_contractual_and_internal_per_metric(manager_client, dataset):
    rows = {r["metric"]: r for r in dashboard(manager_client)["by_metric"]}

    assert list(rows) == ["first_response", "next_response", "resolution"]
    fr = rows["first_response"]
    assert (fr["clocks"], fr["completed"], fr["met"], fr["breached"], fr["internal_met"]) == (
        3, 3, 2, 1, 1)
    res = rows["resolution"]
    assert (res["clocks"], res["completed"], res["active"], res["compliance"],
            res["internal_compliance"]) == (4, 3, 1, 66.7, 33.3)
    nr = rows["next_response"]
    assert (nr["clocks"], nr["completed"], nr["exempt"], nr["compliance"]) == (1, 0, 1, None)


# --- breakdowns -----------------------------------------------------------------------------

def test_breakdown_by_team(manager_client, dataset):
    teams = breakdown(manager_client, "team")

    l1, l2 = teams["L1 General"], teams["L2 Technical"]
    assert (l1["clocks"], l1["response_compliance"], l1["resolution_compliance"]) == (
        4, 100.0, 100.0)
    assert l1["resolution_internal_compliance"] == 50.0  # C9 yes, C2 no
    assert (l1["breaches"], l1["severe"], l1["leading_indicator"]) == (0, 0, 100.0)
    assert (l2["clocks"], l2["response_compliance"], l2["response_internal_compliance"]) == (
        4, 50.0, 0.0)
    assert (l2["resolution_compliance"], l2["breaches"], l2["severe"]) == (0.0, 3, 1)
    assert l2["leading_indicator"] == 0.0


def test_breakdown_by_tier_priority_agent_channel_and_week(manager_client, dataset, agent,
                                                           l2_agent):
    tiers = breakdown(manager_client, "tier")
    assert list(tiers) == ["Enterprise", "Starter", "No organization"]
    assert (tiers["Starter"]["clocks"], tiers["Starter"]["response_compliance"],
            tiers["Starter"]["response_internal_compliance"]) == (2, 100.0, 0.0)
    assert tiers["No organization"]["resolution_compliance"] is None  # C6 not completed
    assert tiers["No organization"]["breaches"] == 2

    priorities = breakdown(manager_client, "priority")
    assert list(priorities) == ["P1 critical", "P3 medium"]
    assert priorities["P1 critical"]["clocks"] == 4 and priorities["P3 medium"]["severe"] == 1

    agents = breakdown(manager_client, "agent")
    assert set(agents) == {agent.display_name, l2_agent.display_name, "Unassigned"}
    assert list(agents)[-1] == "Unassigned"
    assert agents["Unassigned"]["response_compliance"] == 0.0  # C5
    assert agents[l2_agent.display_name]["response_compliance"] == 100.0  # C3

    channels = breakdown(manager_client, "channel")
    assert {k: v["clocks"] for k, v in channels.items()} == {"Email": 4, "Web": 2, "Phone": 2}

    weeks = breakdown(manager_client, "week")
    assert list(weeks) == ["2026-W11", "2026-W12"]
    assert weeks["2026-W11"]["response_compliance"] == 100.0
    assert weeks["2026-W12"]["response_compliance"] == 50.0


def test_one_breakdown_at_a_time_week_by_default(manager_client, dataset):
    context = dashboard(manager_client)
    assert context["breakdown"]["name"] == "week"
    assert [d["name"] for d in context["dimensions"]] == [
        "tier", "priority", "team", "agent", "channel", "week"]
    html = manager_client.get(reverse("sla:dashboard"), {"by": "team", "tier": "starter"}
                              ).content.decode()
    assert 'href="/sla/dashboard/?by=agent&amp;tier=starter"' in html  # tabs keep filters
    assert 'aria-current="page">Team</a>' in html
    assert manager_client.get(reverse("sla:dashboard"), {"by": "nope"}).status_code == 404


def test_figures_are_kept_for_a_few_minutes(manager_client, dataset, customer_a, l1):
    first = dashboard(manager_client)
    ticket = put(make_ticket(customer_a, subject="Later"), team=l1)
    clock(ticket, Metric.FIRST_RESPONSE, S2, FR, state=ClockState.MET, used=10 * MIN)

    assert dashboard(manager_client)["totals"]["clocks"] == first["totals"]["clocks"] == 8
    with time_machine.travel(NOW + timedelta(minutes=6), tick=False):
        assert dashboard(manager_client)["totals"]["clocks"] == 9


def test_filters_narrow_every_figure(manager_client, dataset, l2):
    assert dashboard(manager_client, team=l2.pk)["totals"]["response_compliance"] == 50.0
    assert dashboard(manager_client, tier="starter")["totals"]["clocks"] == 2
    assert dashboard(manager_client, priority=1)["totals"]["clocks"] == 4
    assert dashboard(manager_client, channel="phone")["totals"]["breaches"] == 2
    week12 = dashboard(manager_client, start="2026-03-16")["totals"]
    assert (week12["clocks"], week12["response_compliance"]) == (4, 50.0)
    older = dashboard(manager_client, start="2026-02-01", end="2026-02-28")["totals"]
    assert (older["clocks"], older["breaches"], older["severe"]) == (1, 1, 1)  # C8


def test_invalid_period_is_explained_and_the_default_shown(manager_client, dataset):
    context = dashboard(manager_client, start="2026-03-20", end="2026-03-01")
    assert "The end of the period is before its start." in str(context["form"].errors)
    assert context["totals"]["clocks"] == 8


def test_agents_count_only_tickets_they_can_see(client, agent, dataset):
    client.force_login(agent)  # L1: sees T1 only
    totals = dashboard(client)["totals"]
    assert totals["clocks"] == 4
    assert (totals["response_compliance"], totals["breaches"]) == (100.0, 0)


def test_dashboard_queries_do_not_grow_with_the_data(manager_client, dataset, customer_a, l1):
    with CaptureQueriesContext(connection) as before:
        manager_client.get(reverse("sla:dashboard"), {"by": "agent"})
    cache.clear()
    for i in range(5):
        ticket = put(make_ticket(customer_a, subject=f"More {i}"), team=l1)
        clock(ticket, Metric.FIRST_RESPONSE, S2, FR, state=ClockState.MET, used=10 * MIN,
              fired=(50,))
    with CaptureQueriesContext(connection) as after:
        manager_client.get(reverse("sla:dashboard"), {"by": "agent"})
    # The session is read from the database again after cache.clear(): not the dashboard's.
    def dashboard_queries(ctx: CaptureQueriesContext) -> int:
        return sum("django_session" not in q["sql"] for q in ctx.captured_queries)

    assert dashboard_queries(after) == dashboard_queries(before)
    assert len(after) < 15
    with CaptureQueriesContext(connection) as cached:
        manager_client.get(reverse("sla:dashboard"), {"by": "agent"})
    # By agent and by week; the totals and the per-metric table are folded from them.
    assert len(cached) <= len(after) - 2


@pytest.mark.parametrize("by", ["week", "tier", "priority", "team", "agent", "channel"])
def test_one_pass_figures_equal_the_separate_queries(manager, pauses, by):
    """The dashboard folds its totals, per-metric table and breakdowns from one GROUP BY
    (group, metric); each must equal the figure its own query gives."""
    from sla import selectors
    from sla.views import PeriodFilterForm

    filters = PeriodFilterForm(None).to_filters()
    figures = selectors.dashboard_figures(filters, by=by, user=manager)

    assert figures["totals"] == selectors.compliance(filters, user=manager)
    assert figures["by_metric"] == selectors.compliance_by_metric(filters, user=manager)
    assert figures["rows"] == selectors.compliance_by(filters, by, user=manager)
    assert figures["weeks"] == selectors.compliance_by(filters, "week", user=manager)
    assert figures["totals"]["clocks"] == 8


# --- CSV ----------------------------------------------------------------------------------------

def read_csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_csv_export_of_every_breakdown(manager_client, dataset):
    rows = read_csv(manager_client.get(reverse("sla:dashboard"), {"format": "csv"}))

    total = rows[0]
    assert (total["dimension"], total["group"], total["clocks"]) == ("total", "all", "8")
    assert total["response_compliance_pct"] == "66.7"
    assert total["response_internal_compliance_pct"] == "33.3"
    assert total["response_avg_used_min"] == "46.7"
    assert total["resolution_avg_target_min"] == "480.0"
    assert (total["breaches"], total["severe_breaches"]) == ("3", "1")
    assert total["leading_indicator_pct"] == "33.3"
    assert {r["dimension"] for r in rows[1:]} == {
        "tier", "priority", "team", "agent", "channel", "week"}
    l2 = next(r for r in rows if r["dimension"] == "team" and r["group"] == "L2 Technical")
    assert (l2["response_compliance_pct"], l2["resolution_compliance_pct"]) == ("50.0", "0.0")
    no_org = next(r for r in rows if r["group"] == "No organization")
    assert no_org["resolution_compliance_pct"] == ""  # nothing completed: no ratio


def test_csv_of_one_breakdown_with_the_page_filters(manager_client, dataset, l2):
    rows = read_csv(manager_client.get(reverse("sla:dashboard"),
                                       {"format": "csv", "by": "week", "team": l2.pk}))
    assert [(r["dimension"], r["group"], r["clocks"]) for r in rows] == [
        ("total", "all", "4"), ("week", "2026-W12", "4")]
    assert manager_client.get(reverse("sla:dashboard"),
                              {"format": "csv", "by": "nope"}).status_code == 404


def test_csv_neutralises_formulas_in_names(manager_client, dataset, l1):
    type(l1).objects.filter(pk=l1.pk).update(name="=HYPERLINK(\"x\")")
    rows = read_csv(manager_client.get(reverse("sla:dashboard"),
                                       {"format": "csv", "by": "team"}))
    assert "'=HYPERLINK(\"x\")" in [r["group"] for r in rows]


# --- paused time ----------------------------------------------------------------------------

@pytest.fixture
def pauses(dataset, agent, l2_agent):
    def pause(c: Clock, actor, reason, start, length):
        ClockPause.objects.create(
            clock=c, ticket_id=c.ticket_id, actor=actor, reason=reason, started_at=start,
            ended_at=start + length if length is not None else None, business_time=length)

    pause(dataset.c2, agent, "Waiting on customer", S1 + H, 30 * MIN)
    pause(dataset.c4, agent, "Waiting on customer", S2 + H, 90 * MIN)
    pause(dataset.c4, l2_agent, "Waiting on third party", S2 + 3 * H, 15 * MIN)
    pause(dataset.c6, agent, "Waiting on third party", S2 + 5 * H, None)  # still paused
    pause(dataset.c8, l2_agent, "Waiting on customer", datetime(2026, 2, 5, 10, tzinfo=UTC),
          5 * H)  # before the period
    return dataset


def test_paused_time_per_agent_and_reason(manager_client, pauses, agent, l2_agent):
    response = manager_client.get(reverse("sla:paused"))
    context = response.context

    totals = context["totals"]
    assert (totals["pauses"], totals["ongoing"], totals["tickets"]) == (4, 1, 3)
    assert totals["total"] == timedelta(minutes=135)
    agents = [(r["agent"], r["pauses"], r["total"], r["average"], r["ongoing"], r["tickets"])
              for r in context["by_agent"]]
    assert agents == [
        (agent.display_name, 3, 2 * H, H, 1, 3),
        (l2_agent.display_name, 1, 15 * MIN, 15 * MIN, 0, 1),
    ]
    reasons = [(r["reason"], r["pauses"], r["total"], r["ongoing"]) for r in context["by_reason"]]
    assert reasons == [("Waiting on customer", 2, 2 * H, 0),
                       ("Waiting on third party", 2, 15 * MIN, 1)]
    pairs = [(r["agent"], r["reason"], r["total"]) for r in context["by_agent_reason"]]
    assert pairs == [(agent.display_name, "Waiting on customer", 2 * H),
                     (l2_agent.display_name, "Waiting on third party", 15 * MIN),
                     (agent.display_name, "Waiting on third party", None)]
    html = response.content.decode()
    assert "4 pauses on 3 tickets, 2 h 15 min of business time off the clocks" in html
    assert "<td>2 h</td><td>1 h</td><td>1</td>" in html


def test_paused_time_filters_and_visibility(client, manager, agent, pauses, l2):
    client.force_login(manager)
    by_team = client.get(reverse("sla:paused"), {"team": l2.pk}).context["totals"]
    assert (by_team["pauses"], by_team["total"]) == (3, 105 * MIN)
    client.force_login(agent)  # L1: sees T1 only
    own = client.get(reverse("sla:paused")).context["totals"]
    assert (own["pauses"], own["total"]) == (1, 30 * MIN)


def test_paused_report_in_one_pass_gives_the_figures_of_the_four_queries(manager, pauses):
    """On PostgreSQL the report is one GROUPING SETS pass; it must say what the separate
    queries say (elsewhere the report is those queries)."""
    from sla import selectors
    from sla.views import PeriodFilterForm

    filters = PeriodFilterForm(None).to_filters()
    report = selectors.paused_report(filters, user=manager, pairs=2)

    def keep(rows: list[dict]) -> list[tuple]:
        return [(r.get("agent"), r.get("reason"), r["pauses"], r["ongoing"], r["total"],
                 r["average"], r["tickets"]) for r in rows]

    assert report["totals"] == selectors.paused_totals(filters, user=manager)
    assert keep(report["by_agent"]) == keep(
        selectors.paused_time(filters, user=manager, by="agent"))
    assert keep(report["by_reason"]) == keep(
        selectors.paused_time(filters, user=manager, by="reason"))
    assert keep(report["by_agent_reason"]) == keep(
        selectors.paused_time(filters, user=manager, by="agent_reason", limit=2))
    assert len(report["by_agent_reason"]) == 2


def test_paused_report_is_kept_for_a_few_minutes_in_constant_queries(manager_client, pauses,
                                                                     agent):
    def totals() -> dict:
        return manager_client.get(reverse("sla:paused")).context["totals"]

    with CaptureQueriesContext(connection) as few:
        assert totals()["pauses"] == 4
    ClockPause.objects.create(clock=pauses.c2, ticket_id=pauses.c2.ticket_id, actor=agent,
                              reason="Waiting on customer", started_at=S2 + 2 * H)
    with CaptureQueriesContext(connection) as cached:
        assert totals()["pauses"] == 4
    assert len(cached) < len(few)
    with (time_machine.travel(NOW + timedelta(minutes=6), tick=False),
          CaptureQueriesContext(connection) as more):
        assert totals()["pauses"] == 5
    assert len(more) == len(few)

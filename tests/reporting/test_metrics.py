# ruff: noqa: E501  (the data-set table in the docstring is wider than a line)
"""Support metrics: every formula pinned on a small fixed data set with hand-computed values.

The data set (period 2026-01-05 00:00 – 2026-01-19 00:00 UTC, two ISO weeks, 10 working days):

| ticket | created      | first resp. | resolved     | assignee | team | prio | replies | escal. | reopen | minutes |
|--------|--------------|-------------|--------------|----------|------|------|---------|--------|--------|---------|
| T1     | Jan 5 10:00  | +1 h        | Jan 6 10:00  | agnes    | l1   | P2   | 1       | no     | 0      | 30 + 10 |
| T2     | Jan 6 10:00  | +3 h        | Jan 8 10:00  | agnes    | l1   | P3   | 2       | no     | 0      | 20      |
| T3     | Jan 7 10:00  | +2 h        | Jan 13 10:00 | leo      | l2   | P3   | 1       | no     | 1      | 90      |
| T4     | Jan 8 10:00  | +6 h        | open         | leo      | l2   | P1   | 1       | yes    | 0      |         |
| T5     | Jan 12 10:00 | none        | open (new)   | nobody   | l1   | P4   | 0       | no     | 0      |         |
| T6     | Dec 29 10:00 | +1 h        | Jan 9 10:00  | agnes    | l1   | P2   | 1       | yes    | 0      |         |
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reporting import metrics
from sla.models import Clock, ClockState, Metric
from tickets.models import Escalation, Message, Priority, Survey, Ticket, TimeEntry

from ..factories import PACKET, make_ticket


def at(month: int, day: int, hour: int = 10, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


START, END, NOW = at(1, 5, 0), at(1, 19, 0), at(1, 20, 10)


@pytest.fixture(autouse=True)
def _utc():
    with timezone.override("UTC"):
        yield


@pytest.fixture
def data(customer_a, agent, l2_agent, l1, l2, manager):
    specs = {
        "T1": dict(created=at(1, 5), fr=1, resolved=at(1, 6), assignee=agent, team=l1,
                   priority=Priority.P2, replies=1, minutes=(30, 10)),
        "T2": dict(created=at(1, 6), fr=3, resolved=at(1, 8), assignee=agent, team=l1,
                   priority=Priority.P3, replies=2, minutes=(20,)),
        "T3": dict(created=at(1, 7), fr=2, resolved=at(1, 13), assignee=l2_agent, team=l2,
                   priority=Priority.P3, replies=1, reopen=1, minutes=(90,), channel="email"),
        "T4": dict(created=at(1, 8), fr=6, status="in_progress", assignee=l2_agent, team=l2,
                   priority=Priority.P1, replies=1, escalate=True),
        "T5": dict(created=at(1, 12), status="new", team=l1, priority=Priority.P4),
        "T6": dict(created=at(12, 29, year=2025), fr=1, resolved=at(1, 9), assignee=agent,
                   team=l1, priority=Priority.P2, replies=1, escalate=True),
    }
    tickets = {}
    for name, s in specs.items():
        t = make_ticket(customer_a, subject=name)
        Message.objects.filter(ticket=t).delete()
        Escalation.objects.filter(ticket=t).delete()
        Clock.objects.filter(ticket=t).delete()
        Ticket.objects.filter(pk=t.pk).update(
            created_at=s["created"], updated_at=s["created"], status_changed_at=s["created"],
            first_response_at=s["created"] + timedelta(hours=s["fr"]) if "fr" in s else None,
            resolved_at=s.get("resolved"), closed_at=None,
            status="resolved" if s.get("resolved") else s["status"],
            reopen_count=s.get("reopen", 0), assignee=s.get("assignee"), team=s["team"],
            priority=s["priority"], channel=s.get("channel", "web"),
        )
        t.refresh_from_db()
        for i in range(s.get("replies", 0)):
            Message.objects.create(ticket=t, author=s.get("assignee"), by_agent=True,
                                   is_public=True, body="Reply",
                                   created_at=s["created"] + timedelta(hours=1 + i))
        # Notes and customer messages never count as replies.
        Message.objects.create(ticket=t, author=customer_a, by_agent=False, is_public=True,
                               body="Question", created_at=s["created"])
        Message.objects.create(ticket=t, author=s.get("assignee"), by_agent=True,
                               is_public=False, body="Note", created_at=s["created"])
        if s.get("escalate"):
            Escalation.objects.create(ticket=t, to_team=l2, actor=agent,
                                      created_at=s["created"] + timedelta(hours=2), **PACKET)
        for m in s.get("minutes", ()):
            TimeEntry.objects.create(ticket=t, agent=s["assignee"], minutes=m,
                                     started_at=s["created"], ended_at=s["created"])
        tickets[name] = t
    T = tickets

    def survey(t, rating, nps, responded, agent_, team, resolution=1):
        return Survey.objects.create(
            ticket=t, resolution=resolution, requester=customer_a, agent=agent_, team=team,
            status="responded" if rating else "sent", scheduled_for=responded or at(1, 5),
            rating=rating, nps=nps, responded_at=responded)

    survey(T["T1"], 5, 10, at(1, 6, 12), agent, l1)
    survey(T["T2"], 4, 8, at(1, 8, 12), agent, l1)
    survey(T["T3"], 2, 3, at(1, 13, 12), l2_agent, l2)
    survey(T["T6"], 3, 9, at(1, 9, 12), agent, l1)
    survey(T["T1"], 1, 0, at(1, 25, 12), agent, l1, resolution=2)  # after the period
    survey(T["T4"], None, None, None, l2_agent, l2)  # sent, never answered

    def clock(t, state):
        Clock.objects.create(ticket=t, metric=Metric.FIRST_RESPONSE, target=timedelta(hours=4),
                             internal_target=timedelta(hours=2), state=state,
                             started_at=t.created_at,
                             completed_at=None if state == ClockState.RUNNING
                             else t.created_at + timedelta(hours=1))

    clock(T["T1"], ClockState.MET)
    clock(T["T2"], ClockState.MET)
    clock(T["T3"], ClockState.BREACHED)
    clock(T["T4"], ClockState.RUNNING)
    return tickets


def F(**kw):
    return metrics.MetricFilters(start=START, end=END, **kw)


# --- formulas ---------------------------------------------------------------------------------

def test_csat_and_nps(data, manager):
    row = metrics.csat_nps(F(), user=manager)
    # 4 responses in the period (5, 4, 2, 3): rated 4–5 = 2 → 50 %.
    assert (row["responses"], row["satisfied"], row["csat"]) == (4, 2, 50.0)
    # NPS answers 10, 8, 3, 9: promoters 2, detractors 1 → (2 − 1) ÷ 4 = 25.
    assert (row["nps_responses"], row["promoters"], row["detractors"], row["nps"]) == (
        4, 2, 1, 25.0)


def test_first_response_time(data, manager):
    row = metrics.first_response_time(F(), user=manager)
    # T1..T5 created; T1..T4 answered after 1, 3, 2, 6 h.
    assert (row["created"], row["responded"]) == (5, 4)
    assert row["mean"] == timedelta(hours=3)
    assert row["median"] == timedelta(hours=2.5)


def test_time_to_resolution(data, manager):
    row = metrics.time_to_resolution(F(), user=manager)
    # Resolved in the period: T1 24 h, T2 48 h, T3 144 h, T6 264 h (created before it).
    assert row["resolved"] == 4
    assert row["mean"] == timedelta(hours=120)
    assert row["median"] == timedelta(hours=96)


def test_fcr_reopen_and_handle_time(data, manager):
    row = metrics.resolution_quality(F(), user=manager)
    # FCR: only T1 (T2 two replies, T3 reopened, T6 escalated) → 1 ÷ 4.
    assert (row["resolved"], row["fcr"], row["fcr_pct"]) == (4, 1, 25.0)
    assert (row["reopened"], row["reopen_pct"]) == (1, 25.0)
    # Handle time: T1 40, T2 20, T3 90 minutes → 150 ÷ 3 tickets with time logged.
    assert (row["tracked"], row["handle_total"], row["handle_mean"]) == (3, 150, 50.0)


def test_escalation_rate(data, manager):
    row = metrics.escalation_rate(F(), user=manager)
    # Created T1..T5, escalated T4 (T6 was created before the period).
    assert (row["created"], row["escalated"], row["rate"]) == (5, 1, 20.0)


def test_backlog_and_age(data, manager):
    row = metrics.backlog(F(), user=manager, now=NOW)
    # Open: T4 (Jan 8) and T5 (Jan 12): median created Jan 10 10:00 → 10 days old on Jan 20.
    assert row["open"] == 2
    assert row["median_age"] == timedelta(days=10)


def test_backlog_at_moments(data, manager):
    # Jan 5 00:00: only T6 was open. Jan 10 00:00: T3, T4 (T1, T2, T6 resolved). Jan 19: T4, T5.
    assert metrics.backlog_at(F(), [START, at(1, 10, 0), END], user=manager) == [1, 2, 2]


def test_tickets_per_agent_per_day(data, manager):
    row = metrics.productivity(F(), user=manager)
    # 4 resolved ÷ (2 agents × 10 working days).
    assert (row["resolved"], row["agents"], row["working_days"], row["per_agent_day"]) == (
        4, 2, 10, 0.2)


def test_working_days():
    assert metrics.working_days(at(1, 5).date(), at(1, 18).date()) == 10
    assert metrics.working_days(at(1, 10).date(), at(1, 11).date()) == 0  # a weekend
    assert metrics.working_days(at(1, 9).date(), at(1, 12).date()) == 2


def test_sla_compliance_and_by_priority(data, manager):
    row = metrics.sla_compliance(F(), user=manager)
    # First-response clocks: T1, T2 met, T3 breached, T4 running (not counted) → 2 ÷ 3.
    assert (row["met"], row["breached"], row["pct"]) == (2, 1, 66.7)
    rows = {r["priority"]: r for r in metrics.by_priority(F(), user=manager)}
    assert (rows[2]["created"], rows[2]["sla_pct"]) == (1, 100.0)  # T1 (T6 created earlier)
    assert (rows[3]["created"], rows[3]["met"], rows[3]["breached"], rows[3]["sla_pct"]) == (
        2, 1, 1, 50.0)
    assert rows[3]["frt_mean"] == timedelta(hours=2.5)  # T2 3 h, T3 2 h
    assert (rows[1]["open"], rows[1]["sla_pct"]) == (1, None)
    assert (rows[4]["open"], rows[4]["frt_mean"]) == (1, None)
    assert metrics.sla_from_priorities(list(rows.values())) == row


def test_oldest_open(data, manager):
    assert [t.subject for t in metrics.oldest_open(F(), user=manager)] == ["T4", "T5"]


def test_agent_quality_pairs_handle_time_with_quality(data, manager, agent, l2_agent):
    rows = metrics.agent_quality(F(), user=manager)
    leo, agnes = rows  # highest handle time first
    # leo: T3, 90 min, reopened, CSAT 0 of 1; above 1.5 × overall mean (150 ÷ 3 = 50).
    assert (leo["assignee"], leo["resolved"], leo["handle_mean"], leo["reopen_pct"],
            leo["csat"], leo["high"]) == (l2_agent.pk, 1, 90.0, 100.0, 0.0, True)
    # agnes: T1, T2, T6; (40 + 20) ÷ 2 = 30 min; CSAT 2 of 3 (5, 4, 3); FCR 1 of 3.
    assert (agnes["assignee"], agnes["resolved"], agnes["handle_mean"], agnes["reopen_pct"],
            agnes["csat"], agnes["fcr_pct"], agnes["high"]) == (
        agent.pk, 3, 30.0, 0.0, 66.7, 33.3, False)


def test_weekly_trends(data, manager):
    w2, w3 = metrics.weekly_trends(F(), user=manager)
    assert (w2["label"], w2["created"], w2["frt_mean"]) == ("2026-W02", 4, timedelta(hours=3))
    assert (w2["resolved"], w2["fcr"], w2["reopened"], w2["csat"]) == (3, 1, 0, 66.7)
    assert (w3["label"], w3["created"], w3["frt_mean"]) == ("2026-W03", 1, None)
    assert (w3["resolved"], w3["reopen_pct"], w3["handle_mean"], w3["csat"]) == (
        1, 100.0, 90.0, 0.0)


def test_team_health(data, manager, l1, l2):
    rows = {r["team"]: r for r in metrics.team_health(F(), user=manager, now=NOW)}
    assert (rows[l1.pk]["open"], rows[l1.pk]["created"], rows[l1.pk]["resolved"],
            rows[l1.pk]["net"]) == (1, 3, 3, 0)
    assert rows[l1.pk]["oldest_age"] == timedelta(days=8)  # T5, Jan 12 → Jan 20
    assert (rows[l2.pk]["open"], rows[l2.pk]["created"], rows[l2.pk]["resolved"]) == (1, 2, 1)


def test_health_score():
    assert metrics.backlog_score(1, 2) == 0.0  # doubled: penalty 100
    assert metrics.backlog_score(4, 5) == 75.0
    assert metrics.backlog_score(5, 3) == 100.0
    h = metrics.health_score(sla=66.7, csat=50.0, fcr=25.0, backlog=0.0)
    # 0.3 × 66.7 + 0.3 × 50 + 0.2 × 25 + 0.2 × 0 = 40.01
    assert h["score"] == 40.0
    # Without CSAT the other weights are renormalised: (20.01 + 5 + 0) ÷ 0.7 = 35.73.
    assert metrics.health_score(sla=66.7, csat=None, fcr=25.0, backlog=0.0)["score"] == 35.7
    assert metrics.health_score(sla=None, csat=None, fcr=None, backlog=None)["score"] is None


# --- filters ---------------------------------------------------------------------------------

def test_filters_narrow_every_figure(data, manager, agent, l2_agent, l2):
    assert metrics.resolution_quality(F(priority=Priority.P3), user=manager)["resolved"] == 2
    assert metrics.resolution_quality(F(channel="email"), user=manager)["resolved"] == 1
    assert metrics.resolution_quality(F(agent_id=l2_agent.pk), user=manager)["reopened"] == 1
    assert metrics.time_to_resolution(F(team_id=l2.pk), user=manager)["mean"] == timedelta(
        hours=144)
    assert metrics.csat_nps(F(agent_id=agent.pk), user=manager)["csat"] == 66.7
    assert metrics.csat_nps(F(team_id=l2.pk), user=manager)["csat"] == 0.0
    assert metrics.first_response_time(F(tier="enterprise"), user=manager)["created"] == 5
    assert metrics.first_response_time(F(tier="starter"), user=manager)["created"] == 0
    assert metrics.escalation_rate(F(category_id=999999), user=manager)["created"] == 0
    narrow = metrics.MetricFilters(start=at(1, 12, 0), end=END)
    assert metrics.first_response_time(narrow, user=manager)["created"] == 1


def test_agents_see_only_their_teams_tickets(data, agent):
    # agnes (l1) sees T1, T2, T5, T6 (team l1) — not leo's l2 tickets.
    assert metrics.resolution_quality(F(), user=agent)["resolved"] == 3
    assert metrics.csat_nps(F(), user=agent)["responses"] == 3


# --- pages, CSV, permissions -----------------------------------------------------------------

QS = "?start=2026-01-05&end=2026-01-18"


@pytest.mark.parametrize("name", ["mine", "team", "manager"])
def test_customers_get_404_and_anonymous_login(client, customer_a, name):
    url = reverse(f"metrics:{name}")
    assert client.get(url).status_code == 302
    client.force_login(customer_a)
    assert client.get(url).status_code == 404


def test_manager_page_and_csv(client, data, manager):
    client.force_login(manager)
    page = client.get(reverse("metrics:manager") + QS)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="health-score">40.0<' in html
    assert "<svg" in html and "<script>" not in html and "style=" not in html
    assert "2 ÷ 4" in html  # CSAT formula with its numbers
    csv = client.get(reverse("metrics:manager") + QS + "&format=csv")
    assert csv["Content-Type"].startswith("text/csv")
    lines = csv.content.decode().splitlines()
    assert lines[0].startswith("week,created,frt_mean_h,resolved")
    assert lines[1].startswith("2026-W02,4,3.00,3,1,33.3,0,0.0,2,30.0,3,2,66.7")


def test_team_page_and_csv(client, data, manager, l1):
    client.force_login(manager)
    page = client.get(reverse("metrics:team") + QS)
    assert page.status_code == 200
    assert 'id="team-sla">66.7 %<' in page.content.decode()
    csv = client.get(reverse("metrics:team") + QS + "&format=csv").content.decode()
    assert "Leo" in csv.splitlines()[1] and csv.splitlines()[1].endswith(",yes")
    one = client.get(reverse("metrics:team") + QS + f"&team={l1.pk}&format=csv")
    assert "Leo" not in one.content.decode()


def test_own_dashboard(client, data, agent):
    client.force_login(agent)
    page = client.get(reverse("metrics:mine") + QS)
    assert page.status_code == 200
    assert 'id="own-open">0<' in page.content.decode()  # T4 is leo's, T5 unassigned
    csv = client.get(reverse("metrics:mine") + QS + "&format=csv").content.decode()
    assert "CSAT,66.7 %" in csv


def test_figures_are_cached_per_filter_set(client, data, manager, django_assert_max_num_queries):
    client.force_login(manager)
    client.get(reverse("metrics:manager") + QS)
    with django_assert_max_num_queries(6):  # session, user: no aggregate runs again
        assert client.get(reverse("metrics:manager") + QS).status_code == 200


@pytest.mark.parametrize("narrow", [{}, {"priority": Priority.P3}, {"channel": "email"}])
def test_one_pass_gives_agent_and_resolution_quality(data, manager, agent, narrow):
    """The team page takes both from one GROUP BY: the same figures as each alone, for
    a viewer who sees everything and for an agent limited to their teams."""
    for viewer in (manager, agent):
        agents, quality = metrics.agent_and_resolution_quality(F(**narrow), user=viewer)
        assert agents == metrics.agent_quality(F(**narrow), user=viewer)
        assert quality == metrics.resolution_quality(F(**narrow), user=viewer)


def test_a_member_narrowed_to_their_team_needs_no_visibility_filter(data, manager, agent, l1,
                                                                   l2):
    """An agent sees every ticket of their own teams: narrowed to one of them, the figures
    are the manager's for that team, from the same SQL (no scan of the visible set). On
    another team only what they may see there (tickets assigned to them) counts."""
    own = F(team_id=l1.pk)
    assert str(own.resolved(agent).query) == str(own.resolved(manager).query)
    assert metrics.resolution_quality(own, user=agent) == metrics.resolution_quality(
        own, user=manager)
    assert metrics.resolution_quality(own, user=agent)["resolved"] == 3  # T1, T2, T6
    other = F(team_id=l2.pk)
    assert metrics.resolution_quality(other, user=manager)["resolved"] == 1  # T3, leo's
    assert metrics.resolution_quality(other, user=agent)["resolved"] == 0
    # Surveys are credited to their own team, not the ticket's: those keep the filter.
    assert str(own.responses(agent).query) != str(own.responses(manager).query)


def test_an_agent_narrowed_to_their_own_tickets_needs_no_visibility_filter(data, manager,
                                                                          agent, l2_agent):
    mine = F(agent_id=agent.pk)
    assert str(mine.resolved(agent).query) == str(mine.resolved(manager).query)
    assert metrics.resolution_quality(mine, user=agent)["resolved"] == 3  # T1, T2, T6
    # Someone else's tickets keep the filter: leo's T3 sits in L2, which agnes cannot see.
    theirs = F(agent_id=l2_agent.pk)
    assert str(theirs.resolved(agent).query) != str(theirs.resolved(manager).query)
    assert metrics.resolution_quality(theirs, user=agent)["resolved"] == 0
    assert metrics.resolution_quality(theirs, user=manager)["resolved"] == 1

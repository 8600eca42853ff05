# ruff: noqa: F811  (the `data` fixture is shared with test_metrics)
"""The per-agent hourly rollup behind the team lead's and the agent's dashboards gives the
figures the live formulas give: for every breakdown (per agent, per priority, totals),
every filter it serves, the viewers it serves, and after late changes (a ticket reopened,
a time entry edited, a reply deleted, tickets merged, a priority changed).

Same fixed data set as test_metrics (see its docstring); the rollup is built while "now"
is 2026-01-20 10:00 UTC.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from reporting import rollups
from reporting.models import AgentMetricsHour, MetricsHour, MetricsStaleHour
from reporting.views import agent_figures, team_figures
from tickets import services
from tickets.models import EventKind, Message, Priority, Survey, Ticket, TicketEvent, TimeEntry

from .test_metrics import NOW, QS, F, at, data  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False), timezone.override("UTC"):
        yield


def _without_rollup(compute):
    state = rollups.MetricsRollupState.objects.filter(pk=1)
    saved = list(state.values())
    state.delete()
    try:
        return compute()
    finally:
        if saved:
            rollups.MetricsRollupState.objects.create(**saved[0])


def _seconds(value):
    return None if value is None else round(value.total_seconds())


def comparable_team(fig):
    out = {k: fig[k] for k in ("agents", "quality", "csat", "sla", "oldest")}
    out["by_priority"] = [{**r, "frt_mean": _seconds(r["frt_mean"])} for r in fig["by_priority"]]
    return out


def comparable_mine(fig):
    out = {k: fig[k] for k in ("open", "csat", "quality")}
    out["frt_week"] = fig["frt_week"]
    out["ttr"] = {**fig["ttr"], "mean": _seconds(fig["ttr"]["mean"])}
    return out


def assert_team_equal(user, filters):
    fast = rollups.team_from_rollup(filters, user=user)
    assert fast is not None, "the rollup should serve these filters"
    slow = _without_rollup(lambda: team_figures(user, filters))
    assert "from_rollup" not in slow
    assert comparable_team(team_figures(user, filters)) == comparable_team(slow)
    return fast


def assert_mine_equal(user, filters):
    own = replace(filters, agent_id=user.pk)
    assert rollups.agent_from_rollup(own, user=user) is not None
    slow = _without_rollup(lambda: agent_figures(user, filters))
    assert comparable_mine(agent_figures(user, filters)) == comparable_mine(slow)


@pytest.fixture
def built(data):
    rollups.rebuild(days=40)
    return data


def test_team_figures_equal_the_live_formulas_for_every_breakdown(built, manager, lead, l1,
                                                                  l2, agent, l2_agent):
    fast = assert_team_equal(manager, F())
    # Hand-computed (test_metrics): agnes resolved T1, T2, T6; leo T3 (reopened).
    by_agent = {r["assignee"]: r for r in fast["agents"]}
    assert (by_agent[agent.pk]["resolved"], by_agent[agent.pk]["fcr"]) == (3, 1)
    assert (by_agent[l2_agent.pk]["resolved"], by_agent[l2_agent.pk]["reopened"]) == (1, 1)
    # Created in the period: T1 P2, T2 P3, T3 P3, T4 P1, T5 P4; clocks T1–T3 completed.
    assert [(r["priority"], r["created"], r["met"] + r["breached"])
            for r in fast["by_priority"]] == [(1, 1, 0), (2, 1, 1), (3, 2, 2), (4, 1, 0)]
    for filters in (F(team_id=l1.pk), F(team_id=l2.pk), F(agent_id=agent.pk),
                    F(priority=Priority.P3), F(team_id=l1.pk, priority=Priority.P2),
                    F(team_id=l2.pk, agent_id=l2_agent.pk)):
        assert_team_equal(manager, filters)
    # A team lead narrowed to their own team sees all of it: served by the rollup too.
    assert_team_equal(lead, F(team_id=l1.pk))


def test_filters_the_rollup_does_not_hold_are_computed_live(built, manager, lead, l2):
    assert rollups.team_from_rollup(F(channel="email"), user=manager) is None
    assert rollups.team_from_rollup(F(tier="enterprise"), user=manager) is None
    # A lead looking at another team sees only some of its tickets.
    assert rollups.team_from_rollup(F(team_id=l2.pk), user=lead) is None


def test_agent_figures_equal_the_live_formulas(built, agent, l2_agent):
    assert_mine_equal(agent, F())
    assert_mine_equal(l2_agent, F())


def test_team_page_renders_from_the_rollup(client, built, lead):
    client.force_login(lead)
    html = client.get(reverse("metrics:team") + QS).content.decode()
    assert "Agnes" in html and 'id="agents"' in html


def sync_after(minutes=5):
    with time_machine.travel(NOW + timedelta(minutes=minutes), tick=False):
        rollups.sync()


def test_a_reopened_ticket_leaves_its_resolution_hour(built, manager, agent):
    t1 = built["T1"]
    # The resolution as the service records it in the audit trail.
    TicketEvent.objects.create(ticket=t1, actor=agent, created_at=t1.resolved_at,
                               kind=EventKind.STATUS, field="status", before="in_progress",
                               after="resolved")
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        services.transition(Ticket.objects.get(pk=t1.pk), "in_progress", actor=agent,
                            reason="Still broken")
    sync_after()
    fast = assert_team_equal(manager, F())
    assert {r["assignee"]: r["resolved"] for r in fast["agents"]}[agent.pk] == 2
    assert_mine_equal(agent, F())


def test_an_edited_or_deleted_time_entry_is_folded_in(built, manager, agent):
    entry = TimeEntry.objects.filter(ticket=built["T2"]).get()
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        entry.minutes = 200
        entry.save()
    assert MetricsStaleHour.objects.filter(hour=built["T2"].resolved_at).exists()
    sync_after()
    assert not MetricsStaleHour.objects.exists()
    assert_team_equal(manager, F())
    TimeEntry.objects.filter(ticket=built["T3"]).delete()
    sync_after(10)
    fast = assert_team_equal(manager, F())
    assert fast["quality"]["tracked"] == 2  # T1 and T2 only


def test_a_deleted_reply_and_a_merge_are_folded_in(built, manager, agent):
    # T2 had two public replies: with one deleted it is a first-contact resolution.
    Message.objects.filter(ticket=built["T2"], by_agent=True, is_public=True).first().delete()
    sync_after()
    fast = assert_team_equal(manager, F())
    assert fast["quality"]["fcr"] == 2
    # T4's conversation (one public reply) carried into T1: two replies, no longer FCR.
    with time_machine.travel(NOW + timedelta(minutes=6), tick=False):
        services.merge(Ticket.objects.get(pk=built["T4"].pk),
                       into=Ticket.objects.get(pk=built["T1"].pk), actor=agent)
    sync_after(10)
    fast = assert_team_equal(manager, F())
    assert fast["quality"]["fcr"] == 1
    assert MetricsHour.objects.exists()


def test_a_priority_change_moves_the_ticket_between_rows(built, manager, agent, l1):
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        Ticket.objects.filter(pk=built["T2"].pk).update(priority=Priority.P1,
                                                        updated_at=timezone.now())
    sync_after()
    assert_team_equal(manager, F())
    assert_team_equal(manager, F(priority=Priority.P1))
    assert_team_equal(manager, F(team_id=l1.pk, priority=Priority.P3))


def test_a_survey_credited_elsewhere_is_read_live_for_a_lead(built, lead, manager, l1, l2):
    # T1 (surveyed for l1 and agnes) moves to l2: the lead of l1 no longer sees it.
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        Ticket.objects.filter(pk=built["T1"].pk).update(team=l2, updated_at=timezone.now())
    sync_after()
    assert AgentMetricsHour.objects.filter(responses_elsewhere__gt=0).exists()
    lead_view = assert_team_equal(lead, F(team_id=l1.pk))
    manager_view = assert_team_equal(manager, F(team_id=l1.pk))
    assert lead_view["csat"]["responses"] == manager_view["csat"]["responses"] - 1
    assert Survey.objects.filter(ticket=built["T1"], team=l1).exists()

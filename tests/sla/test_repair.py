"""`manage.py sla_repair_clocks`: clocks recorded wrongly before the fix are put right.

Each test plays a history through today's services (which record it right), turns the
rows back into what the services recorded before the fix ("met" or "stopped", no breach,
no internal miss), and checks that the repair finds exactly those clocks and restores
what the services record today, with an event that says why.
"""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command

from helpdesk.models import SupportTier
from reporting import rollups
from reporting.models import MetricsHour
from sla import escalation
from sla.models import Clock, ClockEvent, ClockLevelFire
from sla.services import repair

from .conftest import MIN, START, H, customer_of, utc

pytestmark = pytest.mark.django_db

FR, RES = "first_response", "resolution"
T = START
WED_14 = utc(2026, 1, 7, 14)


def as_before_the_fix(clock: Clock, state: str) -> dict:
    """Rewrite a clock the way the old services left it; return what is right."""
    truth = {"state": clock.state, "breached_at": clock.breached_at,
             "internal_breached_at": clock.internal_breached_at}
    fields = {"state": state, "breached_at": None, "internal_breached_at": None}
    if state == "met":
        fields["met_at"] = clock.completed_at
    elif state == "exempt":
        fields["exempt_reason"] = "stopped: ticket resolved"
    Clock.objects.filter(pk=clock.pk).update(**fields)
    ClockEvent.objects.filter(clock=clock, kind="breached").delete()
    return truth


def run_repair(desk, when=None, **kwargs) -> repair.RepairReport:
    return desk.run(repair.repair_clocks, when=when or utc(2026, 2, 2, 9), **kwargs)


def shape(clock: Clock) -> dict:
    clock.refresh_from_db()
    return {"state": clock.state, "breached_at": clock.breached_at,
            "internal_breached_at": clock.internal_breached_at}


@pytest.fixture
def resolved_after_retarget(desk, agent):
    """The issue's ticket: starter P5, 21 h, waits, raised to P2, resolved from waiting."""
    ticket = desk.create(customer_of(SupportTier.STARTER), priority=5)
    desk.move(ticket, "waiting_on_customer", actor=agent, at=WED_14, reason="Logs?")
    desk.update(ticket, actor=agent, at=utc(2026, 1, 7, 15), priority=2)
    desk.move(ticket, "resolved", actor=agent, at=utc(2026, 1, 7, 16))
    return ticket


def test_met_and_stopped_clocks_over_their_target_become_breached_with_a_reason(
        desk, resolved_after_retarget):
    res = desk.clock(resolved_after_retarget, RES)
    fr = desk.clock(resolved_after_retarget, FR)
    truth = {RES: as_before_the_fix(res, "met"), FR: as_before_the_fix(fr, "exempt")}
    assert repair.repair_clocks(dry_run=True).corrected == 2
    assert desk.clock(resolved_after_retarget, RES).state == "met"  # a dry run writes nothing

    report = run_repair(desk)
    assert (report.corrected, report.breached, dict(report.was)) == (
        2, 2, {"met": 1, "exempt": 1})
    assert shape(res) == truth[RES] == {"state": "breached", "breached_at": utc(2026, 1, 6, 17),
                                        "internal_breached_at": utc(2026, 1, 6, 13)}
    assert shape(fr) == truth[FR]
    res.refresh_from_db()
    assert (res.met_at, res.completed_at) == (None, utc(2026, 1, 7, 16))
    assert desk.clock(resolved_after_retarget, FR).exempt_reason == ""
    corrected = ClockEvent.objects.get(clock=res, kind="corrected")
    assert corrected.reason == ("corrected: the 16 h target (priority changed from P5 to "
                                "P2) had already been reached")
    assert corrected.data["previous"]["state"] == "met"
    assert corrected.at == utc(2026, 2, 2, 9)
    breach = ClockEvent.objects.get(clock=res, kind="breached")
    assert (breach.at, breach.reason) == (utc(2026, 1, 6, 17),
                                          "target passed (found by the clock repair)")
    assert run_repair(desk).corrected == 0  # never twice


def test_a_target_shortened_then_lengthened_while_paused_is_still_found(desk, agent):
    ticket = desk.create(customer_of(SupportTier.BUSINESS), priority=3)  # 4 h first response
    desk.move(ticket, "waiting_on_customer", actor=agent, at=T + 3 * H, reason="Logs?")
    desk.update(ticket, actor=agent, at=T + 4 * H, priority=2)  # 1 h: reached at 10:00
    desk.update(ticket, actor=agent, at=T + 5 * H, priority=4)  # 8 h: 3 h used is fine
    desk.move(ticket, "resolved", actor=agent, at=T + 6 * H)
    fr = desk.clock(ticket, FR)
    truth = as_before_the_fix(fr, "exempt")
    assert run_repair(desk).corrected == 1  # resolution: 3 h of 24, 8, 72 h
    assert shape(fr) == truth
    assert truth["breached_at"] == T + H


def test_a_target_passed_before_a_re_evaluation_and_before_any_beat_is_found(desk, agent):
    ticket = desk.create(customer_of(SupportTier.BUSINESS), priority=2)  # 1 h first response
    desk.update(ticket, actor=agent, at=T + 90 * timedelta(minutes=1), priority=4)
    desk.reply(ticket, agent, at=T + 2 * H)
    fr = desk.clock(ticket, FR)
    truth = as_before_the_fix(fr, "met")
    assert run_repair(desk).corrected == 1
    assert shape(fr) == truth
    assert truth["breached_at"] == T + H


def test_a_paused_clock_still_waiting_is_breached_and_its_levels_then_fire_once(
        desk, agent, manager):
    ticket = desk.create(customer_of(SupportTier.STARTER), priority=5)
    desk.move(ticket, "waiting_on_customer", actor=agent, at=WED_14, reason="Logs?")
    desk.update(ticket, actor=agent, at=utc(2026, 1, 7, 15), priority=2)
    res = desk.clock(ticket, RES)
    truth = as_before_the_fix(res, "paused")
    Clock.objects.filter(ticket=ticket).update(next_level_at=None, next_level_percent=None)
    report = run_repair(desk, when=utc(2026, 1, 7, 15, 30))
    assert dict(report.was) == {"paused": 1}
    assert shape(res) == truth
    assert res.next_level_at == WED_14  # the levels it passed are due
    while desk.run(escalation.fire_due_levels, when=utc(2026, 1, 7, 15, 31)):
        pass
    assert ClockLevelFire.objects.filter(clock=res, percent=100).count() == 1
    assert ClockEvent.objects.filter(clock=res, kind="breached").count() == 1


def test_clocks_exempted_on_purpose_and_right_ones_are_left_alone(desk, agent, lead):
    from sla import services

    over = desk.create(customer_of(SupportTier.BUSINESS), priority=2)
    desk.move(over, "waiting_on_customer", actor=agent, at=T + 2 * H, reason="Logs?")
    desk.run(services.exempt, desk.clock(over, FR), reason="Out of scope", actor=lead,
             at=T + 3 * H)
    fine = desk.create(customer_of(SupportTier.BUSINESS), priority=2, at=T + 4 * H)
    desk.reply(fine, agent, at=T + 4 * H + 30 * timedelta(minutes=1))
    late = desk.create(customer_of(SupportTier.BUSINESS), priority=2, at=T + 5 * H)
    desk.reply(late, agent, at=T + 7 * H)
    before = list(Clock.objects.order_by("pk").values())
    report = run_repair(desk)
    assert report.corrected == 0
    assert list(Clock.objects.order_by("pk").values()) == before
    assert not ClockEvent.objects.filter(kind="corrected").exists()


def test_an_internal_goal_reached_under_a_shorter_target_is_marked_missed(desk, agent):
    ticket = desk.create(customer_of(SupportTier.BUSINESS), priority=3)  # 4 h, internal 3 h
    desk.move(ticket, "waiting_on_customer", actor=agent, at=T + 105 * MIN, reason="Logs?")
    org = desk.fresh(ticket).organization
    org.support_tier = SupportTier.ENTERPRISE  # 2 h, internal 1 h 30: only that is reached
    desk.run(org.save, when=T + 3 * H)
    org.support_tier = SupportTier.BUSINESS
    desk.run(org.save, when=T + 4 * H)
    desk.move(ticket, "in_progress", actor=agent, at=T + 5 * H)
    desk.reply(ticket, agent, at=T + 5 * H + 10 * MIN)  # 1 h 55 used of 4 h (3 h)
    fr = desk.clock(ticket, FR)
    assert (fr.state, fr.breached_at, fr.internal_breached_at) == ("met", None, T + 90 * MIN)
    assert fr.completed_at <= fr.internal_due_at  # what the dashboard used to go by
    Clock.objects.filter(pk=fr.pk).update(internal_breached_at=None)
    report = run_repair(desk)
    assert (report.corrected, report.breached, report.internal) == (1, 0, 1)
    assert shape(fr) == {"state": "met", "breached_at": None,
                         "internal_breached_at": T + 90 * MIN}


def test_the_command_prints_its_counts_and_refreshes_the_rollup_hours(
        desk, resolved_after_retarget):
    fr = desk.clock(resolved_after_retarget, FR)
    as_before_the_fix(fr, "met")
    as_before_the_fix(desk.clock(resolved_after_retarget, RES), "met")
    desk.run(rollups.rebuild, days=40, when=utc(2026, 2, 2, 9))
    hour = MetricsHour.objects.get(hour=T, sla_met=1)
    out = io.StringIO()
    desk.run(call_command, "sla_repair_clocks", stdout=out, when=utc(2026, 2, 2, 9))
    assert "Clocks corrected: 2 (recorded as: 2 met)" in out.getvalue()
    # The dashboard counted the internal goals missed already (21 h used, no due time).
    assert "  now breached: 2; internal goal now missed: 0" in out.getvalue()
    hour = MetricsHour.objects.get(hour=T, team_id=hour.team_id)
    assert (hour.sla_met, hour.sla_breached) == (0, 1)  # the manager dashboard follows

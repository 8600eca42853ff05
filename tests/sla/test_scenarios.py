"""Stories a support lead recognises: was the SLA met, under that customer's calendar?

Each test walks a ticket through the real services (events delivered as after a
commit) at chosen instants, and checks the clocks a compliance report would read.
"""
from __future__ import annotations

from datetime import date, time, timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum

from helpdesk.models import SupportTier
from sla.models import Clock, ClockEvent, ClockPause, Override, Target

from .conftest import MIN, H, build_calendar, customer_of, local, use_calendar, utc

pytestmark = pytest.mark.django_db

FR, NR, PU, RES = "first_response", "next_response", "periodic_update", "resolution"
LONDON, BERLIN, NEW_YORK = "Europe/London", "Europe/Berlin", "America/New_York"


@pytest.fixture
def business(db):
    return customer_of(SupportTier.BUSINESS, "Initech")


def office(standard, name: str, zone: str, **kwargs):
    """A Mon-Fri 09:00-17:00 office in `zone` for the standard policy's P2-P5."""
    calendar = build_calendar(name, zone, **kwargs)
    use_calendar(standard, calendar, priorities=(2, 3, 4, 5))
    return calendar


# --- the Friday-evening enterprise ticket ------------------------------------------------

def test_enterprise_p2_at_five_to_six_on_friday_answered_monday_ten_past_nine_is_met(
        desk, london, customer_a, agent):
    # Acme is an Enterprise customer: P2 first response 1 h x 0.5 = 30 business minutes.
    ticket = desk.create(customer_a, priority=2, at=local(LONDON, 2026, 6, 12, 17, 55))
    fr = desk.clock(ticket, FR)
    assert fr.target == 30 * MIN
    assert fr.due_at == local(LONDON, 2026, 6, 15, 9, 30)  # 08:30 UTC: summer time
    assert fr.internal_due_at == local(LONDON, 2026, 6, 15, 9, 22, 30)
    assert desk.fresh(ticket).sla_due_at == fr.due_at  # the queue shows it all weekend

    desk.reply(ticket, agent, at=local(LONDON, 2026, 6, 15, 9, 10))
    fr = desk.clock(ticket, FR)
    assert (fr.state, fr.business_used) == ("met", 10 * MIN)


def test_the_same_ticket_answered_at_a_quarter_to_ten_breached_at_half_past_nine(
        desk, london, customer_a, agent):
    ticket = desk.create(customer_a, priority=2, at=local(LONDON, 2026, 6, 12, 17, 55))
    desk.reply(ticket, agent, at=local(LONDON, 2026, 6, 15, 9, 45))
    fr = desk.clock(ticket, FR)
    assert (fr.state, fr.breached_at) == ("breached", local(LONDON, 2026, 6, 15, 9, 30))
    assert fr.business_used == 45 * MIN


# --- pauses over a weekend -----------------------------------------------------------

def test_paused_friday_at_four_resumed_monday_at_ten_loses_no_business_time(
        desk, london, business, agent):
    ticket = desk.create(business, priority=3, at=utc(2026, 1, 9, 14))  # Friday
    desk.move(ticket, "waiting_on_customer", actor=agent, at=utc(2026, 1, 9, 16),
              reason="Asked for a HAR file")
    desk.reply(ticket, business, at=utc(2026, 1, 12, 10), body="HAR attached")
    res = desk.clock(ticket, RES)
    # 24 h target, 2 h used on Friday; 22 h from Monday 10:00 -> Wednesday 16:00.
    assert (res.business_used, res.due_at) == (2 * H, utc(2026, 1, 14, 16))
    assert desk.clock(ticket, FR).due_at == utc(2026, 1, 12, 12)  # 4 h: 2 Fri + 2 Mon
    pause = ClockPause.objects.get(clock=res)
    assert (pause.reason, pause.actor, pause.business_time) == (
        "Asked for a HAR file", agent, 2 * H)  # Fri 16-17 and Mon 9-10, not the weekend


# --- daylight saving time in two time zones --------------------------------------------

def test_berlin_office_across_the_spring_change(desk, standard, business):
    office(standard, "Berlin office", BERLIN)
    ticket = desk.create(business, priority=3, at=local(BERLIN, 2026, 3, 27, 15))  # CET
    # 2 h on Friday, 2 h on Monday morning, now in summer time (UTC+2).
    assert desk.clock(ticket, FR).due_at == local(BERLIN, 2026, 3, 30, 11)
    assert desk.clock(ticket, FR).due_at == utc(2026, 3, 30, 9)


def test_berlin_office_across_the_autumn_change(desk, standard, business):
    office(standard, "Berlin office", BERLIN)
    ticket = desk.create(business, priority=3, at=local(BERLIN, 2026, 10, 23, 16))  # CEST
    assert desk.clock(ticket, FR).due_at == local(BERLIN, 2026, 10, 26, 12)
    assert desk.clock(ticket, FR).due_at == utc(2026, 10, 26, 11)


def test_new_york_office_across_the_spring_change(desk, standard, business):
    office(standard, "New York office", NEW_YORK)
    ticket = desk.create(business, priority=3, at=local(NEW_YORK, 2026, 3, 6, 15))  # EST
    assert desk.clock(ticket, FR).due_at == local(NEW_YORK, 2026, 3, 9, 11)
    assert desk.clock(ticket, FR).due_at == utc(2026, 3, 9, 15)


def test_new_york_office_across_the_autumn_change(desk, standard, business):
    office(standard, "New York office", NEW_YORK)
    ticket = desk.create(business, priority=3, at=local(NEW_YORK, 2026, 10, 30, 15))  # EDT
    assert desk.clock(ticket, FR).due_at == local(NEW_YORK, 2026, 11, 2, 11)
    assert desk.clock(ticket, FR).due_at == utc(2026, 11, 2, 16)


def test_a_pause_over_the_new_york_spring_weekend(desk, standard, business, agent):
    office(standard, "New York office", NEW_YORK)
    ticket = desk.create(business, priority=3, at=local(NEW_YORK, 2026, 3, 5, 10))
    desk.move(ticket, "waiting_on_customer", actor=agent,
              at=local(NEW_YORK, 2026, 3, 6, 16), reason="Waiting for the export file")
    desk.reply(ticket, business, at=local(NEW_YORK, 2026, 3, 9, 10), body="Attached")
    res = desk.clock(ticket, RES)
    # 14 h used (Thu 10-17, Fri 9-16); 10 h left from Monday 10:00 EDT -> Tuesday 12:00.
    assert res.business_used == 14 * H
    assert res.due_at == local(NEW_YORK, 2026, 3, 10, 12)
    assert ClockPause.objects.get(clock=res).business_time == 2 * H


def test_a_round_the_clock_local_calendar_counts_real_hours_over_the_change(
        desk, standard, business):
    # A 24/7 desk defined in Berlin wall-clock time: the night of 28-29 March has 23 h.
    nonstop = build_calendar("Berlin 24/7", BERLIN, hours=[(time(0), time(0))],
                             weekdays=range(7))
    use_calendar(standard, nonstop, priorities=(1,))
    ticket = desk.create(business, priority=1, at=local(BERLIN, 2026, 3, 28, 23))
    res = desk.clock(ticket, RES)
    assert res.due_at == utc(2026, 3, 29, 2)  # 4 real hours later
    assert res.due_at == local(BERLIN, 2026, 3, 29, 4)  # although the wall clock says 5 h


# --- holidays ----------------------------------------------------------------------

def test_christmas_and_the_boxing_day_substitute_are_closed(desk, standard, business):
    office(standard, "London office", LONDON,
           holidays=[date(2026, 12, 25), date(2026, 12, 28), date(2027, 1, 1)])
    ticket = desk.create(business, priority=3, at=local(LONDON, 2026, 12, 24, 15))
    # 2 h on Christmas Eve, then nothing until Tuesday 29th.
    assert desk.clock(ticket, FR).due_at == local(LONDON, 2026, 12, 29, 11)
    p5 = desk.create(business, priority=5, at=local(LONDON, 2026, 12, 24, 15))
    # 5 business days = 40 h: 2 + 8 (29th) + 8 (30th) + 8 (31st) + 8 (4 Jan) + 6 (5 Jan).
    assert desk.clock(p5, RES).due_at == local(LONDON, 2027, 1, 5, 15)


# --- multipliers and overrides -------------------------------------------------------

def test_a_free_plan_how_to_question_gets_four_times_the_time(desk, standard):
    free = customer_of(SupportTier.FREE)
    ticket = desk.create(free, priority=3, at=utc(2026, 1, 5, 9))
    fr = desk.clock(ticket, FR)
    assert (fr.target, fr.due_at) == (16 * H, utc(2026, 1, 6, 17))


def test_black_friday_override_applies_to_tickets_opened_in_its_window(
        desk, standard, business, agent):
    Override.objects.create(
        name="Black Friday", reason="Black Friday / Cyber Monday peak: volume x3",
        starts_at=utc(2026, 11, 27), ends_at=utc(2026, 12, 1), priorities=[3, 4],
        factor=Decimal("1.5"),
    )
    in_window = desk.create(business, priority=3, at=utc(2026, 11, 30, 10))
    urgent = desk.create(business, priority=2, at=utc(2026, 11, 30, 10))
    after = desk.create(business, priority=3, at=utc(2026, 12, 1, 10))
    assert desk.clock(in_window, FR).due_at == utc(2026, 11, 30, 16)  # 6 h
    assert desk.clock(urgent, FR).due_at == utc(2026, 11, 30, 11)  # P2 not covered
    assert desk.clock(after, FR).due_at == utc(2026, 12, 1, 14)  # 4 h again
    # Lowered to P4 the next morning: still measured under the override in force when
    # it was opened: 8 h x 1.5 = 12 h from Monday 10:00.
    desk.update(in_window, actor=agent, at=utc(2026, 12, 1, 9, 30), priority=4)
    fr = desk.clock(in_window, FR)
    assert (fr.target, fr.due_at) == (12 * H, utc(2026, 12, 1, 14))


def test_an_upgrade_to_enterprise_tightens_the_running_clocks(desk, agent):
    customer = customer_of(SupportTier.BUSINESS, "Hooli")
    ticket = desk.create(customer, priority=2, at=utc(2026, 1, 5, 9))
    org = customer.organization
    org.support_tier = SupportTier.ENTERPRISE
    desk.run(org.save, when=utc(2026, 1, 5, 9, 10))
    assert desk.clock(ticket, FR).due_at == utc(2026, 1, 5, 9, 30)
    assert desk.clock(ticket, RES).due_at == utc(2026, 1, 5, 13)
    assert desk.fresh(ticket).sla_due_at == utc(2026, 1, 5, 9, 30)


# --- a P1 outage, end to end -----------------------------------------------------------

def test_saturday_night_p1_outage_for_an_enterprise_customer(desk, customer_a, agent):
    # P1 runs 24/7: first response 15 min, updates every 30 min, resolution 4 h; Acme is
    # Enterprise, so 7.5 min, 15 min and 2 h.
    ticket = desk.create(customer_a, priority=1, at=utc(2026, 1, 10, 2),
                         subject="Production API down")
    assert desk.clock(ticket, FR).due_at == utc(2026, 1, 10, 2, 7, 30)
    desk.reply(ticket, agent, at=utc(2026, 1, 10, 2, 5), body="Investigating now.")
    desk.reply(ticket, agent, at=utc(2026, 1, 10, 2, 18), body="Root cause found.")
    desk.reply(ticket, agent, at=utc(2026, 1, 10, 2, 40), body="Failing over.")
    desk.move(ticket, "waiting_on_third_party", actor=agent, at=utc(2026, 1, 10, 2, 45),
              reason="Cloud provider is restoring the volume")
    assert desk.clock(ticket, RES).state == "running"  # third parties don't stop a P1
    desk.move(ticket, "in_progress", actor=agent, at=utc(2026, 1, 10, 3, 20))
    desk.reply(ticket, agent, at=utc(2026, 1, 10, 3, 50), body="Restored.",
               set_status="resolved")

    fr = desk.clock(ticket, FR)
    assert (fr.state, fr.met_at) == ("met", utc(2026, 1, 10, 2, 5))
    met = ClockEvent.objects.get(clock=fr, kind="met")
    assert met.data["internal_met"] is True  # 5 min against 5 min 37.5 s
    updates = list(Clock.objects.filter(ticket=ticket, metric=PU).order_by("cycle"))
    assert [(c.state, c.breached_at) for c in updates] == [
        ("met", None), ("met", None),
        ("breached", utc(2026, 1, 10, 2, 33)), ("breached", utc(2026, 1, 10, 2, 55)),
    ]  # the resolving reply opens no new update cycle: the ticket is no longer open
    res = desk.clock(ticket, RES)
    assert (res.state, res.due_at, res.met_at) == (
        "met", utc(2026, 1, 10, 4), utc(2026, 1, 10, 3, 50))
    assert desk.fresh(ticket).sla_due_at is None


# --- clock-gaming is visible ------------------------------------------------------------

def test_paused_time_per_agent_and_reason(desk, business, agent, agent2):
    ticket = desk.create(business, priority=3, at=utc(2026, 1, 5, 9))
    desk.move(ticket, "waiting_on_customer", actor=agent, at=utc(2026, 1, 5, 10),
              reason="Need logs")
    desk.move(ticket, "in_progress", actor=agent, at=utc(2026, 1, 5, 12))
    desk.move(ticket, "waiting_on_customer", actor=agent2, at=utc(2026, 1, 5, 14),
              reason="Awaiting confirmation")
    desk.move(ticket, "in_progress", actor=agent2, at=utc(2026, 1, 6, 10))
    report = {
        (row["actor__username"], row["reason"]): row["paused"]
        for row in ClockPause.objects.filter(ticket=ticket, clock__metric=RES)
        .values("actor__username", "reason").annotate(paused=Sum("business_time"))
    }
    assert report == {("agnes", "Need logs"): 2 * H,
                      ("bert", "Awaiting confirmation"): 4 * H}
    events = ClockEvent.objects.filter(ticket=ticket, clock__metric=RES,
                                       kind__in=["paused", "resumed"]).order_by("at")
    assert [(e.kind, e.actor.username) for e in events] == [
        ("paused", "agnes"), ("resumed", "agnes"), ("paused", "bert"), ("resumed", "bert")]


def test_internal_targets_run_alongside_the_contract(desk, business, agent):
    ticket = desk.create(business, priority=2, at=utc(2026, 1, 5, 9))
    desk.reply(ticket, agent, at=utc(2026, 1, 5, 9, 50))
    fr = desk.clock(ticket, FR)
    assert fr.state == "met"  # within the 60 min contract...
    assert ClockEvent.objects.get(clock=fr, kind="met").data["internal_met"] is False
    assert fr.internal_due_at == utc(2026, 1, 5, 9, 45)  # ...but past the 45 min goal
    assert Target.objects.get(policy=fr.policy, priority=2, metric=FR).internal == 45 * MIN
    assert fr.business_used == timedelta(minutes=50)

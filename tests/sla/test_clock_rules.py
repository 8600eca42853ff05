"""Clock rules: every way a ticket's life starts, pauses, resumes, meets, breaches,
stops, exempts and recomputes its SLA clocks — plus the clock arithmetic itself.

Unless a test says otherwise: a Business-tier customer (1x), the seeded "Standard
support" policy (P2-P5 on Mon-Fri 09:00-17:00 UTC, P1 24/7), and the ticket is
auto-assigned to `agent` (round robin in L1) at Monday 2026-01-05 09:00 UTC.
"""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection

from helpdesk import config_cache
from helpdesk.models import SupportTier
from sla import clocks as arith
from sla import services
from sla.calendar import BusinessCalendar
from sla.models import (
    Clock,
    ClockEvent,
    ClockLevelFire,
    ClockPause,
    Level,
    Policy,
    Target,
)
from tests.factories import team
from tickets import events
from tickets.models import Ticket

from .conftest import MIN, START, H, customer_of, utc

pytestmark = pytest.mark.django_db

FR, NR, PU, RES = "first_response", "next_response", "periodic_update", "resolution"
US = timedelta(microseconds=1)
T = START  # Monday 09:00 UTC


@pytest.fixture
def cust(db):
    return customer_of(SupportTier.BUSINESS)


@pytest.fixture
def ticket(desk, cust, agent):
    return desk.create(cust, priority=2)


def at(hours: float = 0, minutes: float = 0):
    return T + timedelta(hours=hours, minutes=minutes)


# --- start -------------------------------------------------------------------------

def test_a_new_ticket_starts_first_response_resolution_and_periodic_update(
        desk, ticket, standard, agent):
    clocks = {c.metric: c for c in desk.clocks(ticket)}
    assert set(clocks) == {FR, RES, PU}
    fr = clocks[FR]
    assert (fr.state, fr.cycle, fr.policy, fr.started_at) == ("running", 1, standard, T)
    assert (fr.target, fr.internal_target) == (H, 45 * MIN)
    assert (fr.due_at, fr.internal_due_at) == (at(1), at(0, 45))
    assert clocks[RES].due_at == utc(2026, 1, 5, 17)
    assert clocks[PU].due_at == at(2)
    assert sorted(desk.events(ticket)) == [(FR, "started"), (PU, "started"), (RES, "started")]
    assert desk.fresh(ticket).assignee == agent  # auto-assigned before the clocks started


def test_no_update_cadence_means_no_periodic_clock(desk, cust):
    ticket = desk.create(cust, priority=4)
    assert {c.metric for c in desk.clocks(ticket)} == {FR, RES}


def test_next_response_does_not_start_with_the_ticket(desk, ticket):
    assert desk.clock(ticket, NR) is None


def test_no_matching_policy_means_no_clocks(desk, cust):
    Policy.objects.update(is_active=False)
    config_cache.forget()  # a bulk update sends no signal (the admin saves row by row)
    ticket = desk.create(cust, priority=2)
    assert desk.clocks(ticket) == []
    assert desk.fresh(ticket).sla_due_at is None


def test_the_ticket_carries_its_earliest_due_time(desk, ticket):
    fresh = desk.fresh(ticket)
    assert (fresh.sla_due_at, fresh.sla_level) == (at(1), "")


# --- first response --------------------------------------------------------------------

def test_first_public_agent_reply_meets_first_response(desk, ticket, agent):
    desk.reply(ticket, agent, at=at(0, 20))
    fr = desk.clock(ticket, FR)
    assert (fr.state, fr.met_at, fr.completed_at) == ("met", at(0, 20), at(0, 20))
    assert fr.business_used == 20 * MIN
    met = ClockEvent.objects.get(clock=fr, kind="met")
    assert (met.actor, met.at, met.data["internal_met"]) == (agent, at(0, 20), True)


def test_internal_notes_do_not_count_as_a_response(desk, ticket, agent):
    desk.note(ticket, agent, at=at(0, 10))
    assert desk.clock(ticket, FR).state == "running"
    desk.reply(ticket, agent, at=at(0, 50))
    assert desk.clock(ticket, FR).met_at == at(0, 50)


def test_customer_messages_and_auto_acknowledgements_do_not_count(desk, ticket, cust):
    desk.reply(ticket, cust, at=at(0, 10), body="Any news?")
    # An automatic acknowledgement is a public message that is not by an agent.
    desk.dispatch(events.PublicReply(ticket.pk, None, at(0, 11), message_id=0,
                                     by_agent=False))
    assert desk.clock(ticket, FR).state == "running"
    assert desk.clock(ticket, NR) is None


def test_a_reply_exactly_at_the_due_time_is_met(desk, ticket, agent):
    desk.reply(ticket, agent, at=at(1))
    assert desk.clock(ticket, FR).state == "met"


def test_a_late_reply_is_a_breach_at_the_due_time_even_if_the_job_never_ran(
        desk, ticket, agent):
    desk.reply(ticket, agent, at=at(2))
    fr = desk.clock(ticket, FR)
    assert (fr.state, fr.breached_at, fr.completed_at, fr.met_at) == (
        "breached", at(1), at(2), None)
    breach = ClockEvent.objects.get(clock=fr, kind="breached")
    assert breach.at == at(1)
    assert breach.data["detected_at"] == at(2).isoformat()


def test_internal_goal_is_reported_on_completion(desk, ticket, agent):
    desk.reply(ticket, agent, at=at(0, 50))  # contract 60 min, internal 45 min
    met = ClockEvent.objects.get(clock=desk.clock(ticket, FR), kind="met")
    assert met.data == {"business_used": "P0DT00H50M00S", "target": "P0DT01H00M00S",
                        "internal_target": "P0DT00H45M00S", "internal_met": False}


# --- next response and periodic update -------------------------------------------------

def test_next_response_starts_on_each_customer_message_after_an_agent_reply(
        desk, ticket, agent, cust):
    desk.reply(ticket, cust, at=at(0, 10), body="Adding a screenshot")
    assert desk.clock(ticket, NR) is None  # nobody answered yet: first response runs
    desk.reply(ticket, agent, at=at(0, 20))
    desk.reply(ticket, cust, at=at(0, 40), body="Still failing")
    nr = desk.clock(ticket, NR)
    assert (nr.cycle, nr.state, nr.started_at, nr.due_at) == (1, "running", at(0, 40),
                                                               at(1, 40))
    desk.reply(ticket, cust, at=at(0, 50), body="Hello?")
    assert Clock.objects.filter(ticket=ticket, metric=NR).count() == 1  # one at a time
    desk.reply(ticket, agent, at=at(1, 10))
    assert (desk.clock(ticket, NR, 1).state, desk.clock(ticket, NR, 1).met_at) == (
        "met", at(1, 10))
    desk.reply(ticket, cust, at=at(1, 30), body="Thanks, one more thing")
    assert (desk.clock(ticket, NR).cycle, desk.clock(ticket, NR).started_at) == (2, at(1, 30))


def test_each_public_agent_reply_restarts_the_periodic_update(desk, ticket, agent):
    desk.reply(ticket, agent, at=at(0, 30))
    first, second = desk.clock(ticket, PU, 1), desk.clock(ticket, PU, 2)
    assert (first.state, first.met_at) == ("met", at(0, 30))
    assert (second.state, second.started_at, second.due_at) == ("running", at(0, 30),
                                                                at(2, 30))
    desk.reply(ticket, agent, at=at(3))  # half an hour late
    second = desk.clock(ticket, PU, 2)
    assert (second.state, second.breached_at) == ("breached", at(2, 30))
    assert desk.clock(ticket, PU).cycle == 3
    desk.note(ticket, agent, at=at(3, 30))
    assert desk.clock(ticket, PU).cycle == 3  # a note is no update to the customer


# --- pauses -------------------------------------------------------------------------

def test_waiting_on_customer_pauses_and_their_reply_resumes(desk, ticket, agent, cust):
    desk.reply(ticket, agent, at=at(0, 30))
    desk.move(ticket, "waiting_on_customer", actor=agent, at=at(1), reason="Need a HAR file")
    res, pu = desk.clock(ticket, RES), desk.clock(ticket, PU)
    assert (res.state, res.business_used, res.due_at, res.paused_at) == (
        "paused", H, None, at(1))
    assert (pu.state, pu.business_used) == ("paused", 30 * MIN)
    pause = ClockPause.objects.get(clock=res)
    assert (pause.actor, pause.reason, pause.started_at, pause.ended_at) == (
        agent, "Need a HAR file", at(1), None)
    assert desk.fresh(ticket).sla_due_at is None  # paused clocks have no due time

    desk.reply(ticket, cust, at=at(5), body="Here it is")  # 14:00, back to in progress
    res, pu = desk.clock(ticket, RES), desk.clock(ticket, PU)
    assert res.state == "running"
    assert res.due_at == utc(2026, 1, 6, 13)  # 7 h left: 14:00-17:00 + Tue 09:00-13:00
    assert pu.due_at == at(6, 30)  # 1.5 h left
    pause.refresh_from_db()
    assert (pause.ended_at, pause.business_time) == (at(5), 4 * H)
    assert desk.clock(ticket, NR).due_at == at(6)
    assert desk.fresh(ticket).sla_due_at == at(6)  # the new next-response clock


def test_waiting_on_third_party_pauses_only_where_the_policy_says(
        desk, ticket, agent, standard):
    desk.move(ticket, "waiting_on_third_party", actor=agent, at=at(1),
              reason="Asked the payment provider")
    assert desk.clock(ticket, RES).state == "running"
    desk.move(ticket, "in_progress", actor=agent, at=at(2))
    standard.pause_on_third_party = True
    standard.save()
    desk.move(ticket, "waiting_on_third_party", actor=agent, at=at(3),
              reason="Asked the payment provider again")
    assert desk.clock(ticket, RES).state == "paused"
    desk.move(ticket, "in_progress", actor=agent, at=at(4))
    res = desk.clock(ticket, RES)
    assert (res.state, res.due_at) == ("running", utc(2026, 1, 6, 10))


def test_a_breached_clock_stays_breached_through_a_pause(desk, ticket, agent, cust):
    desk.move(ticket, "waiting_on_customer", actor=agent, at=at(1, 30),
              reason="Which browser?")
    fr = desk.clock(ticket, FR)
    assert (fr.state, fr.breached_at, fr.business_used) == ("paused", at(1), 90 * MIN)
    desk.reply(ticket, cust, at=at(3), body="Firefox")
    fr = desk.clock(ticket, FR)
    assert (fr.state, fr.breached_at, fr.due_at) == ("breached", at(1), at(1))
    desk.reply(ticket, agent, at=at(3, 30))
    fr = desk.clock(ticket, FR)
    assert (fr.state, fr.breached_at, fr.completed_at, fr.met_at) == (
        "breached", at(1), at(3, 30), None)
    assert fr.business_used == 2 * H  # 90 min before the pause + 30 min after


def test_cycles_started_while_the_ticket_waits_start_paused(desk, ticket, agent):
    desk.reply(ticket, agent, at=at(0, 30), set_status="waiting_on_customer",
               status_reason="Please send the logs")
    pu = desk.clock(ticket, PU)
    assert (pu.cycle, pu.state, pu.business_used, pu.paused_at) == (
        2, "paused", timedelta(0), at(0, 30))
    assert ClockPause.objects.get(clock=pu).reason == "Please send the logs"


# --- completion -------------------------------------------------------------------------

def test_resolving_meets_resolution_and_stops_the_other_clocks(desk, ticket, agent):
    desk.reply(ticket, agent, at=at(0, 30))
    desk.move(ticket, "resolved", actor=agent, at=at(2))
    res, pu = desk.clock(ticket, RES), desk.clock(ticket, PU)
    assert (res.state, res.met_at, res.business_used) == ("met", at(2), 2 * H)
    assert (pu.state, pu.exempt_reason, pu.completed_at) == (
        "exempt", "stopped: ticket resolved", at(2))
    assert desk.clock(ticket, FR).state == "met"  # untouched
    assert desk.fresh(ticket).sla_due_at is None
    assert (PU, "stopped") in desk.events(ticket)


def test_resolving_after_the_deadline_completes_a_breached_clock(desk, ticket, agent):
    desk.reply(ticket, agent, at=at(0, 30))
    desk.move(ticket, "resolved", actor=agent, at=utc(2026, 1, 6, 10))
    res = desk.clock(ticket, RES)
    assert (res.state, res.breached_at, res.completed_at) == (
        "breached", utc(2026, 1, 5, 17), utc(2026, 1, 6, 10))
    assert res.business_used == 9 * H


def test_closing_stops_every_remaining_clock(desk, ticket, agent):
    desk.move(ticket, "waiting_on_customer", actor=agent, at=at(0, 30), reason="Details?")
    desk.move(ticket, "closed", actor=agent, at=at(3), reason="No answer")
    clocks = desk.clocks(ticket)
    assert {(c.metric, c.state, c.exempt_reason) for c in clocks} == {
        (m, "exempt", "stopped: ticket closed") for m in (FR, RES, PU)}
    pauses = ClockPause.objects.filter(ticket=ticket)
    assert {(p.ended_at, p.business_time) for p in pauses} == {(at(3), 150 * MIN)}


def test_reopening_starts_a_new_resolution_cycle_with_the_full_target(
        desk, ticket, agent, cust):
    desk.reply(ticket, agent, at=at(0, 30))
    desk.move(ticket, "resolved", actor=agent, at=at(2))
    desk.move(ticket, "in_progress", actor=cust, at=utc(2026, 1, 6, 10),
              reason="It broke again")
    first, second = desk.clock(ticket, RES, 1), desk.clock(ticket, RES, 2)
    assert first.state == "met"
    assert (second.state, second.started_at, second.target, second.due_at) == (
        "running", utc(2026, 1, 6, 10), 8 * H, utc(2026, 1, 7, 10))
    pu = desk.clock(ticket, PU)
    assert (pu.cycle, pu.started_at, pu.due_at) == (3, utc(2026, 1, 6, 10),
                                                     utc(2026, 1, 6, 12))
    # StatusChanged and Reopened both announce it: still one new cycle.
    assert Clock.objects.filter(ticket=ticket, metric=RES).count() == 2
    assert desk.clock(ticket, FR).cycle == 1


def test_a_customer_reply_on_a_resolved_ticket_reopens_its_resolution_clock(
        desk, ticket, agent, cust):
    desk.reply(ticket, agent, at=at(0, 30))
    desk.move(ticket, "resolved", actor=agent, at=at(1))
    desk.reply(ticket, cust, at=at(4), body="Not fixed")
    assert desk.fresh(ticket).status == "in_progress"
    assert (desk.clock(ticket, RES).cycle, desk.clock(ticket, RES).started_at) == (2, at(4))
    assert desk.clock(ticket, NR).started_at == at(4)


def test_a_merged_duplicate_is_exempt_and_the_original_stands(desk, ticket, cust, agent):
    duplicate = desk.create(cust, priority=2, at=at(0, 10), subject="Export broken again")
    before = {(c.metric, c.state, c.due_at) for c in desk.clocks(ticket)}
    desk.merge(duplicate, ticket, actor=agent, at=at(0, 30))
    assert {(c.state, c.exempt_reason) for c in desk.clocks(duplicate)} == {
        ("exempt", f"merged into #{ticket.pk}")}
    assert {(c.metric, c.state, c.due_at) for c in desk.clocks(ticket)} == before
    assert desk.fresh(duplicate).sla_due_at is None
    exempted = ClockEvent.objects.filter(ticket=duplicate, kind="exempted")
    assert {(e.actor, e.at) for e in exempted} == {(agent, at(0, 30))}


# --- exemption ----------------------------------------------------------------------

def test_exempting_needs_a_reason_and_is_audited(desk, ticket, lead):
    fr = desk.clock(ticket, FR)
    with pytest.raises(ValueError, match="reason"):
        services.exempt(fr, reason="  ", actor=lead)
    desk.run(services.exempt, fr, reason="Out of scope: feature request", actor=lead,
             at=at(0, 20))
    fr = desk.clock(ticket, FR)
    assert (fr.state, fr.exempt_reason, fr.completed_at) == (
        "exempt", "Out of scope: feature request", at(0, 20))
    event = ClockEvent.objects.get(clock=fr, kind="exempted")
    assert (event.actor, event.reason, event.data["previous_state"]) == (
        lead, "Out of scope: feature request", "running")
    services.exempt(fr, reason="again", actor=lead)
    assert ClockEvent.objects.filter(clock=fr, kind="exempted").count() == 1
    assert desk.fresh(ticket).sla_due_at == at(2)  # the periodic update is next


# --- re-evaluation ------------------------------------------------------------------

def test_raising_priority_recomputes_from_the_original_start(desk, cust, agent):
    ticket = desk.create(cust, priority=3)
    assert desk.clock(ticket, FR).due_at == at(4)
    desk.update(ticket, actor=agent, at=at(0, 40), priority=2)
    fr, res, pu = (desk.clock(ticket, m) for m in (FR, RES, PU))
    assert (fr.started_at, fr.target, fr.due_at) == (T, H, at(1))
    assert res.due_at == utc(2026, 1, 5, 17)
    assert pu.due_at == at(2)
    event = ClockEvent.objects.get(clock=fr, kind="recomputed")
    assert event.data["before"]["due_at"] == at(4).isoformat()
    assert event.data["after"]["due_at"] == at(1).isoformat()
    assert (event.actor, event.reason) == (agent, "priority changed from P3 to P2")
    assert desk.fresh(ticket).sla_due_at == at(1)


def test_a_recomputed_deadline_already_past_is_breached_at_that_instant(desk, cust, agent):
    ticket = desk.create(cust, priority=3)
    desk.update(ticket, actor=agent, at=at(0, 40), priority=1)  # 15 min, 24/7
    fr = desk.clock(ticket, FR)
    assert (fr.state, fr.due_at, fr.breached_at, fr.calendar.name) == (
        "breached", at(0, 15), at(0, 15), "24/7")


def test_re_evaluation_keeps_the_pauses(desk, cust, agent):
    ticket = desk.create(cust, priority=3)
    desk.move(ticket, "waiting_on_customer", actor=agent, at=at(1), reason="Logs?")
    desk.move(ticket, "in_progress", actor=agent, at=utc(2026, 1, 6, 10))
    desk.update(ticket, actor=agent, at=utc(2026, 1, 6, 11), priority=2)
    res = desk.clock(ticket, RES)
    # 8 h from Monday 09:00: 1 h before the pause, 7 h from Tuesday 10:00.
    assert (res.business_used, res.due_at) == (H, utc(2026, 1, 6, 17))
    desk.update(ticket, actor=agent, at=utc(2026, 1, 6, 12), priority=1)
    res = desk.clock(ticket, RES)
    # On the 24/7 calendar the hour before the pause still counts once: 3 h left.
    assert (res.business_used, res.due_at, res.state) == (H, utc(2026, 1, 6, 13), "running")
    pause = ClockPause.objects.get(clock=res)
    assert pause.business_time == 24 * H  # recounted on the new calendar


def test_a_lower_priority_without_update_cadence_exempts_the_periodic_clock(
        desk, ticket, agent):
    desk.update(ticket, actor=agent, at=at(0, 20), priority=4)
    pu = desk.clock(ticket, PU)
    assert (pu.state, pu.exempt_reason) == (
        "exempt", "not applicable: no periodic update target for P4 under Standard support")


def test_a_new_update_cadence_starts_from_the_last_agent_update(desk, cust, agent):
    ticket = desk.create(cust, priority=4)
    desk.reply(ticket, agent, at=at(1))
    desk.update(ticket, actor=agent, at=at(2), priority=2)
    pu = desk.clock(ticket, PU)
    assert (pu.cycle, pu.started_at, pu.due_at) == (1, at(1), at(3))


def test_a_team_change_can_switch_the_policy(desk, cust, agent, l2):
    technical = Policy.objects.create(name="L2 technical", order=10)
    technical.teams.add(l2)
    Target.objects.create(policy=technical, priority=3, metric=FR, contractual=2 * H,
                          calendar=None)
    Target.objects.create(policy=technical, priority=3, metric=RES, contractual=16 * H,
                          calendar=None)
    ticket = desk.create(cust, priority=3)
    desk.update(ticket, actor=agent, at=at(1), team=l2)
    fr = desk.clock(ticket, FR)
    assert (fr.policy, fr.target, fr.due_at) == (technical, 2 * H, at(2))
    assert desk.clock(ticket, RES).due_at == at(16)  # 24/7: no target row calendar
    assert (desk.clock(ticket, PU).state, desk.clock(ticket, PU).exempt_reason) == (
        "exempt", "not applicable: no periodic update target for P3 under L2 technical")
    assert ClockEvent.objects.get(clock=fr, kind="recomputed").reason == "team changed"


def test_a_tag_change_can_switch_the_policy(desk, cust, agent, standard):
    security = Policy.objects.create(name="Security incidents", order=10)
    from tickets.models import Tag

    security.tags.add(Tag.objects.create(name="security"))
    for target in Target.objects.filter(policy=standard, priority=3):
        target.pk, target.policy = None, security
        target.contractual = target.contractual / 2
        target.internal = None
        target.save()
    ticket = desk.create(cust, priority=3)
    desk.update(ticket, actor=agent, at=at(1), tags=["security"])
    fr = desk.clock(ticket, FR)
    assert (fr.policy, fr.target, fr.due_at) == (security, 2 * H, at(2))
    assert ClockEvent.objects.get(clock=fr, kind="recomputed").reason == "tags changed"


def test_escalating_to_another_team_re_evaluates(desk, cust, agent, l2):
    from tests.factories import PACKET
    from tickets.services import escalate

    engineering = Policy.objects.create(name="L2 technical", order=10)
    engineering.teams.add(l2)
    Target.objects.create(policy=engineering, priority=3, metric=RES, contractual=4 * H)
    ticket = desk.create(cust, priority=3)
    desk.run(escalate, desk.fresh(ticket), to_team=l2, packet=PACKET, actor=agent,
             when=at(1))
    res = desk.clock(ticket, RES)
    assert (res.policy, res.due_at) == (engineering, at(4))
    assert desk.clock(ticket, FR).state == "exempt"  # no first-response target there


def test_a_macro_adding_a_tag_re_evaluates(desk, cust, agent):
    from tickets.models import Macro, Tag
    from tickets.services import apply_macro

    vip = Policy.objects.create(name="VIP", order=10)
    tag = Tag.objects.create(name="vip")
    vip.tags.add(tag)
    Target.objects.create(policy=vip, priority=3, metric=FR, contractual=30 * MIN)
    Target.objects.create(policy=vip, priority=3, metric=RES, contractual=8 * H)
    macro = Macro.objects.create(name="Flag VIP", body="", is_public=False)
    macro.add_tags.add(tag)
    ticket = desk.create(cust, priority=3)
    desk.run(apply_macro, desk.fresh(ticket), macro, actor=agent, when=at(0, 10))
    fr = desk.clock(ticket, FR)
    assert (fr.policy, fr.due_at) == (vip, at(0, 30))


def test_an_organization_tier_change_reevaluates_its_open_tickets(desk, agent):
    cust = customer_of(SupportTier.BUSINESS)
    first = desk.create(cust, priority=2)
    second = desk.create(cust, priority=3, at=at(0, 5))
    done = desk.create(cust, priority=2, at=at(0, 10))
    desk.move(done, "resolved", actor=agent, at=at(0, 15))
    other = desk.create(customer_of(SupportTier.BUSINESS), priority=2, at=at(0, 16))
    org = cust.organization
    org.support_tier = SupportTier.ENTERPRISE
    desk.run(org.save, when=at(0, 20))
    assert desk.clock(first, FR).due_at == at(0, 30)
    assert desk.clock(second, FR).due_at == at(2, 5)
    assert desk.clock(done, RES).state == "met"
    assert desk.clock(done, RES).target == 8 * H
    assert desk.clock(other, FR).due_at == at(1, 16)
    event = ClockEvent.objects.get(clock=desk.clock(first, FR), kind="recomputed")
    assert event.reason == "organization tier changed from business to enterprise"
    assert event.at == at(0, 20)
    org.name = "Renamed"
    desk.run(org.save, when=at(0, 30))  # no tier change: nothing recomputed
    assert ClockEvent.objects.filter(kind="recomputed").count() == 6  # 3 + 3 clocks


def test_re_evaluation_without_any_change_writes_nothing(desk, ticket, agent):
    before = ClockEvent.objects.count()
    assert desk.run(services.reevaluate, desk.fresh(ticket), at=at(0, 30)) == []
    assert ClockEvent.objects.count() == before


def test_no_policy_any_more_exempts_the_clocks(desk, ticket, standard):
    standard.is_active = False
    standard.save()
    desk.run(services.reevaluate, desk.fresh(ticket), at=at(0, 30))
    assert {(c.state, c.exempt_reason) for c in desk.clocks(ticket)} == {
        ("exempt", "not applicable: no SLA policy matches")}


def test_a_ticket_that_gets_a_policy_later_is_measured_from_its_creation(
        desk, cust, agent, standard):
    standard.is_active = False
    standard.save()
    ticket = desk.create(cust, priority=2)
    desk.reply(ticket, agent, at=at(0, 40))
    assert desk.clocks(ticket) == []
    standard.is_active = True
    standard.save()
    desk.update(ticket, actor=agent, at=at(2), priority=3)
    fr, res, pu = (desk.clock(ticket, m) for m in (FR, RES, PU))
    assert (fr.started_at, fr.state, fr.met_at) == (T, "met", at(0, 40))
    assert (res.started_at, res.due_at) == (T, utc(2026, 1, 7, 17))
    assert (pu.started_at, pu.due_at) == (at(0, 40), utc(2026, 1, 6, 9, 40))


# --- levels and the ticket's columns ---------------------------------------------------

def test_the_next_level_is_the_smallest_not_fired(desk, ticket):
    fr = desk.clock(ticket, FR)
    assert (fr.next_level_percent, fr.next_level_at) == (50, at(0, 30))
    ClockLevelFire.objects.create(clock=fr, percent=50, scheduled_at=at(0, 30),
                                  fired_at=at(0, 30))
    services.refresh_next_level(fr)
    assert (fr.next_level_percent, fr.next_level_at) == (80, at(0, 48))
    assert desk.fresh(ticket).sla_level == "yellow"
    for percent in (80, 90, 100):
        ClockLevelFire.objects.create(clock=fr, percent=percent, scheduled_at=at(1),
                                      fired_at=at(1))
    services.refresh_next_level(fr)
    assert (fr.next_level_percent, fr.next_level_at) == (200, at(2))
    assert desk.fresh(ticket).sla_level == "breach"


def test_paused_and_completed_clocks_have_no_next_level(desk, ticket, agent):
    desk.move(ticket, "waiting_on_customer", actor=agent, at=at(0, 10), reason="?")
    assert desk.clock(ticket, RES).next_level_at is None
    desk.move(ticket, "in_progress", actor=agent, at=at(1, 10))
    assert desk.clock(ticket, RES).next_level_at == at(5, 0)  # 4 h of 8 h, 1 h paused
    desk.reply(ticket, agent, at=at(1, 20))
    assert desk.clock(ticket, FR).next_level_at is None


def test_mark_breached_records_the_due_instant_once(desk, ticket):
    fr = desk.clock(ticket, FR)
    assert desk.run(services.mark_breached, fr, at=at(0, 59)) is False
    assert desk.run(services.mark_breached, fr, at=at(1, 3)) is True
    fr.refresh_from_db()
    assert (fr.state, fr.breached_at) == ("breached", at(1))
    assert desk.run(services.mark_breached, fr, at=at(1, 4)) is False
    assert ClockEvent.objects.filter(clock=fr, kind="breached").count() == 1
    assert desk.fresh(ticket).sla_due_at == at(1)  # breached clocks stay in the queue


def test_the_ticket_due_time_follows_the_earliest_active_clock(desk, ticket, agent):
    assert desk.fresh(ticket).sla_due_at == at(1)
    desk.reply(ticket, agent, at=at(0, 30))
    assert desk.fresh(ticket).sla_due_at == at(2, 30)  # next periodic update
    desk.move(ticket, "resolved", actor=agent, at=at(1))
    assert desk.fresh(ticket).sla_due_at is None


def test_sync_ticket_repairs_the_columns(desk, ticket):
    Ticket.objects.filter(pk=ticket.pk).update(sla_due_at=None, sla_level="red")
    services.sync_ticket(ticket.pk)
    assert (desk.fresh(ticket).sla_due_at, desk.fresh(ticket).sla_level) == (at(1), "")


# --- idempotency and concurrency ------------------------------------------------------

def _state(ticket):
    return (
        [(c.metric, c.cycle, c.state, c.due_at, c.business_used, c.completed_at,
          c.breached_at, c.next_level_at) for c in Clock.objects.filter(ticket=ticket)
         .order_by("metric", "cycle")],
        ClockEvent.objects.filter(ticket=ticket).count(),
        ClockPause.objects.filter(ticket=ticket).count(),
        Ticket.objects.filter(pk=ticket.pk).values_list("sla_due_at", "sla_level").get(),
    )


def test_delivering_every_event_twice_changes_nothing(desk, cust, agent):
    seen: list[events.TicketEvent] = []
    kinds = (events.TicketCreated, events.PublicReply, events.StatusChanged,
             events.Reopened, events.PriorityChanged, events.Assigned, events.TagsChanged)
    for kind in kinds:
        events.subscribe(kind, seen.append)
    try:
        ticket = desk.create(cust, priority=3)
        desk.reply(ticket, agent, at=at(0, 30))
        desk.reply(ticket, cust, at=at(1), body="more")
        desk.move(ticket, "waiting_on_customer", actor=agent, at=at(2), reason="Logs?")
        desk.reply(ticket, cust, at=at(3), body="logs")
        desk.update(ticket, actor=agent, at=at(4), priority=2, tags=["vip"])
        desk.move(ticket, "resolved", actor=agent, at=at(5))
        desk.move(ticket, "in_progress", actor=cust, at=at(6), reason="again")
    finally:
        for kind in kinds:
            events.unsubscribe(kind, seen.append)
    assert {type(e) for e in seen} == set(kinds)
    before = _state(ticket)
    for event in seen:
        events.dispatch(event)
    assert _state(ticket) == before


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_serialise_on_the_clock_rows(django_capture_on_commit_callbacks):
    import time_machine

    from helpdesk.roles import Role
    from tests.factories import make_user
    from tickets import services as ticket_services

    customer = customer_of(SupportTier.BUSINESS)
    agent = make_user(Role.AGENT, teams=(team("l1-general"),))
    with time_machine.travel(T, tick=False):
        ticket = ticket_services.create_ticket(requester=customer, subject="Race",
                                               description="Two workers", priority=2)
    reply = events.PublicReply(ticket.pk, agent.pk, at(0, 30), message_id=0, by_agent=True)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def deliver():
        try:
            barrier.wait()
            events.dispatch(reply)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Clock.objects.filter(ticket=ticket, metric=PU).count() == 2
    assert ClockEvent.objects.filter(ticket=ticket, kind="met").count() == 2  # FR + PU 1


# --- the arithmetic --------------------------------------------------------------------

def _clock(**fields) -> Clock:
    fields.setdefault("state", "running")
    fields.setdefault("target", H)
    fields.setdefault("internal_target", 45 * MIN)
    fields.setdefault("started_at", T)
    fields.setdefault("segment_started_at", fields["started_at"])
    return Clock(**fields)


OFFICE = BusinessCalendar("UTC", {d: [(utc(2026, 1, 1, 9).time(), utc(2026, 1, 1, 17).time())]
                                  for d in range(5)})


def test_due_times_run_on_the_business_calendar():
    clock = _clock(started_at=utc(2026, 1, 9, 16, 30))  # Friday
    assert arith.due_times(clock, OFFICE) == (utc(2026, 1, 12, 9, 30), utc(2026, 1, 12, 9, 15))


def test_pause_and_resume_keep_closed_hours_off_the_clock():
    clock = _clock(started_at=utc(2026, 1, 9, 15, 30))
    assert arith.pause(clock, OFFICE, utc(2026, 1, 9, 16)) == 30 * MIN
    assert (clock.state, clock.due_at, clock.segment_started_at) == ("paused", None, None)
    assert arith.resume(clock, OFFICE, utc(2026, 1, 12, 10)) == 2 * H  # Fri 16-17, Mon 9-10
    assert (clock.state, clock.due_at) == ("running", utc(2026, 1, 12, 10, 30))


def test_level_instants_and_already_passed_levels():
    clock = _clock(business_used=40 * MIN, segment_started_at=T)
    assert arith.level_instant(clock, OFFICE, 50) is None  # 30 min: before this segment
    assert arith.level_instant(clock, OFFICE, 80) == T + 8 * MIN
    assert arith.next_level(clock, [50, 80, 90], [], cal=OFFICE) == (50, T)  # fire at once
    assert arith.next_level(clock, [50, 80, 90], [50], cal=OFFICE) == (80, T + 8 * MIN)
    assert arith.next_level(clock, [50, 80], [50, 80], cal=OFFICE) is None


def test_levels_do_not_apply_to_paused_completed_or_exempt_clocks():
    for fields in ({"state": "paused", "segment_started_at": None},
                   {"state": "met", "completed_at": T}, {"state": "exempt", "completed_at": T}):
        assert arith.next_level(_clock(**fields), [50], [], cal=OFFICE) is None


def test_level_amounts_are_exact():
    assert arith.level_amount(H, 80) == 48 * MIN
    assert arith.level_amount(7 * US, 50) == 4 * US  # rounded up: the level is reached
    assert arith.level_amount(H, 200) == 2 * H


def test_usage_instant_walks_past_segments():
    segments = [(utc(2026, 1, 5, 9), utc(2026, 1, 5, 10)),
                (utc(2026, 1, 5, 16), utc(2026, 1, 6, 10)),
                (utc(2026, 1, 6, 12), None)]
    assert arith.usage_instant(OFFICE, segments, 30 * MIN) == utc(2026, 1, 5, 9, 30)
    assert arith.usage_instant(OFFICE, segments, 90 * MIN) == utc(2026, 1, 5, 16, 30)
    assert arith.usage_instant(OFFICE, segments, 2 * H) == utc(2026, 1, 5, 17)
    assert arith.usage_instant(OFFICE, segments, 3 * H) == utc(2026, 1, 6, 10)
    assert arith.usage_instant(OFFICE, segments, 4 * H) == utc(2026, 1, 6, 13)


def test_levels_follow_the_policy_rows(desk, ticket, standard):
    Level.objects.filter(policy=standard, percent=50).delete()
    fr = desk.clock(ticket, FR)
    services.refresh_next_level(fr)
    assert (fr.next_level_percent, fr.next_level_at) == (80, at(0, 48))


@pytest.mark.django_db
def test_clock_events_are_append_only():
    from datetime import UTC, datetime, timedelta

    from helpdesk.models import AppendOnlyError
    from sla.models import Clock, ClockEvent
    from tests.factories import make_org, make_ticket, make_user

    ticket = make_ticket(make_user(org=make_org()))
    at = datetime(2026, 11, 2, 9, tzinfo=UTC)
    clock = Clock.objects.create(ticket=ticket, metric="resolution", target=timedelta(hours=4),
                                 internal_target=timedelta(hours=3), started_at=at)
    event = ClockEvent.objects.create(clock=clock, ticket=ticket, kind="started", at=at)
    event.reason = "edited"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()

"""Re-targeting: a clock whose used time reaches its new target is breached, paused or not.

The issue behind these tests: a ticket put on waiting, re-prioritised, then resolved came
out "met" although its used time was far over the new target. Every path that changes a
clock's target (priority, organization tier, tags, team) and every way it completes
(resolved from waiting, reopened after) must call such a clock breached, at the instant
its recomputed history crossed the target, and fire the breach level once.

Unless a test says otherwise: the seeded "Standard support" policy on Mon-Fri 09:00-17:00
UTC, the ticket opened Monday 2026-01-05 09:00 UTC and auto-assigned to `agent`.
"""
from __future__ import annotations

from datetime import timedelta

import pytest

from helpdesk.models import Notification, SupportTier
from sla import escalation
from sla.models import Clock, ClockEvent, ClockLevelFire, ClockPause, Policy, Target
from tickets.models import Tag, Ticket

from .conftest import START, H, customer_of, utc

pytestmark = pytest.mark.django_db

FR, RES = "first_response", "resolution"
T = START  # Monday 09:00 UTC
WED_14 = utc(2026, 1, 7, 14)  # 21 business hours after T: Mon 8 + Tue 8 + Wed 5


def beat(desk, when) -> None:
    """The escalation job until it has nothing left to fire, as the beat would run it."""
    while desk.run(escalation.fire_due_levels, when=when):
        pass


def fired(clock: Clock) -> list[int]:
    return sorted(ClockLevelFire.objects.filter(clock=clock).values_list("percent", flat=True))


def breaches(clock: Clock) -> list[ClockEvent]:
    return list(ClockEvent.objects.filter(clock=clock, kind="breached"))


def completion(clock: Clock) -> ClockEvent:
    return ClockEvent.objects.filter(clock=clock, kind__in=["met", "stopped"]).get()


@pytest.fixture
def starter(db):
    return customer_of(SupportTier.STARTER)  # targets × 2


@pytest.fixture
def waiting_p5(desk, starter, agent):
    """The issue's ticket: a starter P5 ran 21 business hours, then waits on the customer.

    P5 × 2: first response 48 h, resolution 80 h; nothing reached yet.
    """
    ticket = desk.create(starter, priority=5)
    desk.move(ticket, "waiting_on_customer", actor=agent, at=WED_14, reason="Need the logs")
    return ticket


def test_a_backfilled_clock_does_not_count_a_wait_that_has_ended(desk, agent):
    ticket = desk.create(customer_of(SupportTier.BUSINESS), priority=4)  # no cadence
    desk.move(ticket, "waiting_on_customer", actor=agent, at=T + H, reason="Version?")
    desk.move(ticket, "in_progress", actor=agent, at=T + 3 * H)
    desk.update(ticket, actor=agent, at=T + 5 * H, priority=2)  # a 2 h cadence
    pu = desk.clock(ticket, "periodic_update")
    # Ran 09-10, then from 12:00: the 2 h were used up at 13:00, not at 11:00.
    assert (pu.state, pu.business_used, pu.segment_started_at) == ("breached", H, T + 3 * H)
    assert pu.breached_at == pu.due_at == T + 4 * H
    assert ClockPause.objects.get(clock=pu).business_time == 2 * H


# --- priority raised while the clock waits ------------------------------------------------

def test_priority_raised_while_waiting_on_the_customer_breaches_the_paused_clocks(
        desk, waiting_p5, agent):
    desk.update(waiting_p5, actor=agent, at=utc(2026, 1, 7, 15), priority=2)
    res, fr = desk.clock(waiting_p5, RES), desk.clock(waiting_p5, FR)
    # P2 × 2: resolution 16 h (internal 12 h), first response 2 h (internal 1 h 30).
    assert (res.target, res.business_used, res.due_at) == (16 * H, 21 * H, None)
    assert (res.state, res.breached_at, res.internal_breached_at) == (
        "paused", utc(2026, 1, 6, 17), utc(2026, 1, 6, 13))  # Tue 17:00, Tue 13:00
    assert (fr.state, fr.breached_at, fr.internal_breached_at) == (
        "paused", utc(2026, 1, 5, 11), utc(2026, 1, 5, 10, 30))
    [event] = breaches(res)
    assert (event.at, event.reason, event.actor) == (
        utc(2026, 1, 6, 17), "target passed (priority changed from P5 to P2)", agent)
    assert event.data["detected_at"] == utc(2026, 1, 7, 15).isoformat()
    assert event.data["business_used"] == "P0DT21H00M00S"


def test_a_cadence_the_new_priority_brings_replays_the_waits_since_the_ticket_opened(
        desk, waiting_p5, agent):
    desk.update(waiting_p5, actor=agent, at=utc(2026, 1, 7, 15), priority=2)
    pu = desk.clock(waiting_p5, "periodic_update")
    # From the ticket's creation (no agent update yet), paused since it has waited: the
    # hour of waiting before the priority change is not counted.
    assert (pu.started_at, pu.target, pu.state, pu.paused_at, pu.business_used) == (
        T, 4 * H, "paused", WED_14, 21 * H)
    assert pu.breached_at == utc(2026, 1, 5, 13)
    pause = ClockPause.objects.get(clock=pu)
    assert (pause.started_at, pause.ended_at, pause.actor, pause.reason) == (
        WED_14, None, agent, "Need the logs")


def test_resolved_straight_from_waiting_the_clocks_are_breached_not_met_or_exempt(
        desk, waiting_p5, agent):
    desk.update(waiting_p5, actor=agent, at=utc(2026, 1, 7, 15), priority=2)
    desk.move(waiting_p5, "resolved", actor=agent, at=utc(2026, 1, 7, 16))
    res, fr = desk.clock(waiting_p5, RES), desk.clock(waiting_p5, FR)
    assert (res.state, res.met_at, res.completed_at, res.business_used) == (
        "breached", None, utc(2026, 1, 7, 16), 21 * H)
    assert (fr.state, fr.exempt_reason, fr.breached_at) == (
        "breached", "", utc(2026, 1, 5, 11))
    assert completion(res).reason == "ticket resolved (after breach)"
    assert completion(res).data["internal_met"] is False
    assert len(breaches(res)) == len(breaches(fr)) == 1


def test_reopened_after_that_a_new_resolution_cycle_runs_on_the_full_target(
        desk, waiting_p5, agent, starter):
    desk.update(waiting_p5, actor=agent, at=utc(2026, 1, 7, 15), priority=2)
    desk.move(waiting_p5, "resolved", actor=agent, at=utc(2026, 1, 7, 16))
    desk.move(waiting_p5, "in_progress", actor=starter, at=utc(2026, 1, 8, 10),
              reason="Still broken")
    first, second = desk.clock(waiting_p5, RES, 1), desk.clock(waiting_p5, RES, 2)
    assert (first.state, first.breached_at) == ("breached", utc(2026, 1, 6, 17))
    assert (second.state, second.target, second.breached_at) == ("running", 16 * H, None)
    assert second.due_at == utc(2026, 1, 12, 10)  # Thu 7 h + Fri 8 h + Mon 1 h
    assert desk.clock(waiting_p5, FR).state == "breached"  # cycle 1, untouched


def test_the_breach_levels_fire_once_as_the_escalation_job_would_have(
        desk, waiting_p5, agent, lead, manager):
    desk.update(waiting_p5, actor=agent, at=utc(2026, 1, 7, 15), priority=2)
    beat(desk, utc(2026, 1, 7, 15, 1))
    res, fr = desk.clock(waiting_p5, RES), desk.clock(waiting_p5, FR)
    assert fired(fr) == [50, 80, 90, 100, 200]  # 21 h against 2 h
    assert 100 in fired(res)
    scheduled = ClockLevelFire.objects.get(clock=res, percent=100).scheduled_at
    assert scheduled == WED_14  # due while the clock waits: at its pause
    # The 100 % level raises the priority, which re-targets again: the breach stands.
    assert desk.fresh(waiting_p5).priority == 1
    assert (res.state, res.breached_at) == ("paused", utc(2026, 1, 6, 17))
    assert len(breaches(res)) == len(breaches(fr)) == 1
    told = Notification.objects.filter(recipient=manager, dedupe_key__endswith=":100:"
                                       f"{manager.pk}")
    assert told.count() == 3  # once per clock
    assert {n.title.split(" was due")[0] for n in told} == {
        f"SLA breached: #{waiting_p5.pk} First response",
        f"SLA breached: #{waiting_p5.pk} Resolution",
        f"SLA breached: #{waiting_p5.pk} Periodic update"}
    before = (ClockLevelFire.objects.count(), Notification.objects.count())
    beat(desk, utc(2026, 1, 7, 16))
    assert (ClockLevelFire.objects.count(), Notification.objects.count()) == before


def test_priority_raised_while_waiting_on_a_third_party_that_pauses(
        desk, starter, agent, standard):
    standard.pause_on_third_party = True
    standard.save()
    ticket = desk.create(starter, priority=5)
    desk.move(ticket, "waiting_on_third_party", actor=agent, at=WED_14,
              reason="Asked the payment provider")
    desk.update(ticket, actor=agent, at=utc(2026, 1, 7, 15), priority=2)
    desk.move(ticket, "resolved", actor=agent, at=utc(2026, 1, 7, 16))
    res = desk.clock(ticket, RES)
    assert (res.state, res.breached_at, res.business_used) == (
        "breached", utc(2026, 1, 6, 17), 21 * H)


def test_priority_raised_while_a_third_party_wait_does_not_pause(desk, starter, agent):
    ticket = desk.create(starter, priority=5)
    desk.move(ticket, "waiting_on_third_party", actor=agent, at=WED_14,
              reason="Asked the payment provider")
    desk.update(ticket, actor=agent, at=utc(2026, 1, 7, 15), priority=2)
    res = desk.clock(ticket, RES)
    assert (res.state, res.breached_at, res.due_at) == (
        "breached", utc(2026, 1, 6, 17), utc(2026, 1, 6, 17))


# --- the other re-evaluations, on a paused clock --------------------------------------------

@pytest.fixture
def waiting_p3(desk, agent):
    """A business-tier P3 (first response 4 h) that ran 3 business hours, then waits."""
    ticket = desk.create(customer_of(SupportTier.BUSINESS), priority=3)
    desk.move(ticket, "waiting_on_customer", actor=agent, at=T + 3 * H, reason="Logs?")
    return ticket


def test_an_organization_tier_change_while_paused_breaches(desk, waiting_p3):
    org = Ticket.objects.get(pk=waiting_p3.pk).organization
    org.support_tier = SupportTier.ENTERPRISE  # × 0.5: first response 2 h
    desk.run(org.save, when=T + 5 * H)
    fr = desk.clock(waiting_p3, FR)
    assert (fr.state, fr.target, fr.breached_at) == ("paused", 2 * H, T + 2 * H)
    assert breaches(fr)[0].reason == (
        "target passed (organization tier changed from business to enterprise)")
    desk.move(waiting_p3, "resolved", actor=None, at=T + 6 * H)
    assert desk.clock(waiting_p3, FR).state == "breached"


def test_a_tag_change_while_paused_breaches(desk, waiting_p3, agent, standard):
    security = Policy.objects.create(name="Security incidents", order=10)
    security.tags.add(Tag.objects.create(name="security"))
    Target.objects.create(policy=security, priority=3, metric=FR, contractual=H,
                          calendar=None)
    desk.update(waiting_p3, actor=agent, at=T + 5 * H, tags=["security"])
    fr = desk.clock(waiting_p3, FR)
    assert (fr.state, fr.policy, fr.breached_at) == ("paused", security, T + H)
    assert breaches(fr)[0].reason == "target passed (tags changed)"


def test_a_team_change_while_paused_breaches(desk, waiting_p3, agent, l2):
    technical = Policy.objects.create(name="L2 technical", order=10)
    technical.teams.add(l2)
    Target.objects.create(policy=technical, priority=3, metric=FR, contractual=2 * H,
                          calendar=None)
    desk.update(waiting_p3, actor=agent, at=T + 5 * H, team=l2)
    fr = desk.clock(waiting_p3, FR)
    assert (fr.state, fr.policy, fr.breached_at) == ("paused", technical, T + 2 * H)
    assert breaches(fr)[0].reason == "target passed (team changed)"


# --- every target the clock had ---------------------------------------------------------

def test_a_breach_of_a_shortened_target_stands_when_the_target_grows_again(
        desk, waiting_p3, agent):
    desk.update(waiting_p3, actor=agent, at=T + 4 * H, priority=2)  # 1 h: breached
    desk.update(waiting_p3, actor=agent, at=T + 5 * H, priority=4)  # 8 h: not reached
    desk.move(waiting_p3, "resolved", actor=agent, at=T + 6 * H)
    fr = desk.clock(waiting_p3, FR)
    assert (fr.state, fr.target, fr.business_used, fr.breached_at) == (
        "breached", 8 * H, 3 * H, T + H)


def test_a_target_reached_before_the_job_ran_stands_when_it_is_lengthened(
        desk, agent):
    ticket = desk.create(customer_of(SupportTier.BUSINESS), priority=2)  # 1 h, 45 min
    # 10:30: the first response is half an hour late and no beat has recorded it yet.
    desk.update(ticket, actor=agent, at=T + 90 * timedelta(minutes=1), priority=4)
    desk.reply(ticket, agent, at=T + 2 * H)
    fr = desk.clock(ticket, FR)
    assert (fr.state, fr.target, fr.breached_at, fr.internal_breached_at) == (
        "breached", 8 * H, T + H, T + 45 * timedelta(minutes=1))


def test_an_internal_goal_reached_only_under_a_shorter_target_is_missed(
        desk, waiting_p3, agent):
    # P3 first response: 4 h, internal 3 h; 3 h used. P2: 1 h. P4: 8 h, internal 6 h.
    desk.update(waiting_p3, actor=agent, at=T + 4 * H, priority=4)
    fr = desk.clock(waiting_p3, FR)
    assert (fr.breached_at, fr.internal_breached_at) == (None, T + 3 * H)  # reached at 3 h
    desk.move(waiting_p3, "in_progress", actor=agent, at=T + 5 * H)
    desk.reply(waiting_p3, agent, at=T + 5 * H + 30 * timedelta(minutes=1))
    fr = desk.clock(waiting_p3, FR)
    assert (fr.state, fr.internal_breached_at) == ("met", T + 3 * H)
    assert completion(fr).data["internal_met"] is False


def test_pausing_exactly_at_the_due_time_is_a_breach(desk, agent):
    ticket = desk.create(customer_of(SupportTier.BUSINESS), priority=2)
    desk.move(ticket, "waiting_on_customer", actor=agent, at=T + H, reason="Which browser?")
    fr = desk.clock(ticket, FR)
    assert (fr.state, fr.business_used, fr.breached_at) == ("paused", H, T + H)


def test_completing_exactly_at_the_due_time_is_still_met(desk, agent):
    ticket = desk.create(customer_of(SupportTier.BUSINESS), priority=2)
    desk.reply(ticket, agent, at=T + H)
    fr = desk.clock(ticket, FR)
    assert (fr.state, fr.breached_at, fr.internal_breached_at) == ("met", None, T + 45 * (
        timedelta(minutes=1)))


# --- the policy of a new cycle ---------------------------------------------------------

@pytest.fixture
def vip(db, standard):
    """Tag "vip": a 24/7 policy at half the standard targets."""
    policy = Policy.objects.create(name="VIP", order=10)
    policy.tags.add(Tag.objects.create(name="vip"))
    for target in Target.objects.filter(policy=standard):
        target.pk, target.policy, target.calendar = None, policy, None
        target.contractual, target.internal = target.contractual / 2, target.internal / 2
        target.save()
    return policy


def test_a_reopened_ticket_restarts_under_the_policy_it_has_now(desk, agent, vip):
    customer = customer_of(SupportTier.BUSINESS)
    ticket = desk.create(customer, priority=3)
    desk.reply(ticket, agent, at=T + 30 * timedelta(minutes=1))  # update cadence: cycle 2
    desk.update(ticket, actor=agent, at=T + H, priority=4)  # no cadence: cycle 2 exempt
    desk.update(ticket, actor=agent, at=T + 2 * H, tags=["vip"])
    desk.move(ticket, "resolved", actor=agent, at=T + 3 * H)
    desk.reply(ticket, customer, at=T + 4 * H, body="Not fixed")  # reopens it
    res, nr = desk.clock(ticket, RES), desk.clock(ticket, "next_response")
    assert (res.cycle, res.policy, res.calendar, res.target) == (2, vip, None, 36 * H)
    assert (nr.policy, nr.target, nr.due_at) == (vip, 4 * H, T + 8 * H)


def test_tagged_while_resolved_the_reopened_cycle_runs_under_the_new_policy(
        desk, agent, vip):
    customer = customer_of(SupportTier.BUSINESS)
    ticket = desk.create(customer, priority=3)
    desk.move(ticket, "resolved", actor=agent, at=T + H)
    desk.update(ticket, actor=agent, at=T + 2 * H, tags=["vip"])
    desk.move(ticket, "in_progress", actor=customer, at=T + 3 * H, reason="Again")
    res = desk.clock(ticket, RES)
    assert (res.cycle, res.policy, res.target, res.due_at) == (2, vip, 12 * H, T + 15 * H)

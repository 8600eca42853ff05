"""Schedules: DST-correct shift instants, conflict rules, time off, status intervals,
adherence arithmetic, routing that honours availability, and the schedule pages."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from helpdesk.models import AssignmentStrategy
from helpdesk.roles import Role
from tickets import assignment
from workforce import selectors as wf_selectors
from workforce import shift_time
from workforce.models import AgentState, AgentStatus, ScheduledShift, ShiftTemplate, TimeOff
from workforce.services import schedules

from ..factories import make_ticket, make_user


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def core(db):
    return ShiftTemplate.objects.create(name="Core", start=time(9), end=time(17))


@pytest.fixture
def night(db):
    return ShiftTemplate.objects.create(name="Night", start=time(22), end=time(6),
                                        break_minutes=45)


@pytest.fixture
def split(db):
    return ShiftTemplate.objects.create(name="Split", start=time(8), end=time(12),
                                        second_start=time(16), second_end=time(20),
                                        break_minutes=0)


@pytest.fixture
def berlin(agent):
    agent.time_zone = "Europe/Berlin"
    agent.save(update_fields=["time_zone"])
    return agent


# --- shift instants -------------------------------------------------------------------------

def test_berlin_night_shift_across_spring_forward_lasts_seven_hours(berlin, night):
    [shift] = schedules.plan_shift(agent=berlin, template=night, day=date(2026, 3, 28))
    assert shift.starts_at == utc(2026, 3, 28, 21)  # 22:00 CET
    assert shift.ends_at == utc(2026, 3, 29, 4)  # 06:00 CEST
    assert shift.ends_at - shift.starts_at == timedelta(hours=7)
    assert shift.break_minutes == 45


def test_berlin_night_shift_across_fall_back_lasts_nine_hours(berlin, night):
    [shift] = schedules.plan_shift(agent=berlin, template=night, day=date(2026, 10, 24))
    assert shift.starts_at == utc(2026, 10, 24, 20)  # 22:00 CEST
    assert shift.ends_at == utc(2026, 10, 25, 5)  # 06:00 CET
    assert shift.ends_at - shift.starts_at == timedelta(hours=9)


def test_new_york_core_shift_before_and_after_dst(agent, core):
    agent.time_zone = "America/New_York"
    agent.save(update_fields=["time_zone"])
    [winter] = schedules.plan_shift(agent=agent, template=core, day=date(2026, 3, 6))
    [summer] = schedules.plan_shift(agent=agent, template=core, day=date(2026, 3, 9))
    assert (winter.starts_at, winter.ends_at) == (utc(2026, 3, 6, 14), utc(2026, 3, 6, 22))
    assert (summer.starts_at, summer.ends_at) == (utc(2026, 3, 9, 13), utc(2026, 3, 9, 21))


def test_time_in_the_spring_forward_gap_lands_after_it():
    zone = shift_time.ZoneInfo("Europe/Berlin")
    assert shift_time.local_instant(date(2026, 3, 29), time(2, 30), zone) == utc(2026, 3, 29, 1,
                                                                               30)


def test_split_template_makes_two_shifts(agent, split):
    parts = schedules.plan_shift(agent=agent, template=split, day=date(2026, 5, 4))
    assert [(p.starts_at.hour, p.ends_at.hour) for p in parts] == [(8, 12), (16, 20)]


# --- conflict rules ---------------------------------------------------------------------------

def test_overlapping_shift_is_refused(agent, core):
    schedules.plan_shift(agent=agent, template=core, day=date(2026, 5, 4))
    with pytest.raises(ValidationError, match="already has a shift"):
        schedules.add_shift(agent=agent, starts_at=utc(2026, 5, 4, 16),
                            ends_at=utc(2026, 5, 4, 20))
    assert ScheduledShift.objects.count() == 1


def test_back_to_back_shifts_are_allowed(agent, core):
    schedules.plan_shift(agent=agent, template=core, day=date(2026, 5, 4))
    schedules.add_shift(agent=agent, starts_at=utc(2026, 5, 4, 17), ends_at=utc(2026, 5, 4, 20))
    assert ScheduledShift.objects.count() == 2


def test_shift_during_approved_time_off_is_refused(agent, lead, core):
    off = schedules.time_off_for_days(agent=agent, first=date(2026, 5, 4),
                                      last=date(2026, 5, 5))
    schedules.approve_time_off(off, actor=lead)
    with pytest.raises(ValidationError, match="approved time off"):
        schedules.plan_shift(agent=agent, template=core, day=date(2026, 5, 5))


def test_requested_time_off_does_not_block_a_shift(agent, core):
    schedules.time_off_for_days(agent=agent, first=date(2026, 5, 4), last=date(2026, 5, 4))
    schedules.plan_shift(agent=agent, template=core, day=date(2026, 5, 4))


def test_shift_longer_than_twelve_hours_is_refused(agent):
    with pytest.raises(ValidationError, match="at most 12 hours"):
        schedules.add_shift(agent=agent, starts_at=utc(2026, 5, 4, 6),
                            ends_at=utc(2026, 5, 4, 18, 30))


def test_more_than_weekly_hours_is_refused(agent, core):
    for d in range(6):  # Monday to Saturday: 6 × 8 h = 48 h
        schedules.plan_shift(agent=agent, template=core, day=date(2026, 5, 4) + timedelta(d))
    with pytest.raises(ValidationError, match="56 h in week 19 of 2026; the limit is 48 h"):
        schedules.plan_shift(agent=agent, template=core, day=date(2026, 5, 10))
    # the next ISO week starts afresh
    schedules.plan_shift(agent=agent, template=core, day=date(2026, 5, 11))


def test_weekly_limit_comes_from_the_setting(agent, core, settings):
    settings.HELPDESK_MAX_WEEKLY_HOURS = 10
    schedules.plan_shift(agent=agent, template=core, day=date(2026, 5, 4))
    with pytest.raises(ValidationError, match="limit is 10 h"):
        schedules.plan_shift(agent=agent, template=core, day=date(2026, 5, 5))


# --- time off -------------------------------------------------------------------------------

def test_approving_time_off_cancels_the_shifts_it_covers(berlin, lead, core):
    schedules.plan_shift(agent=berlin, template=core, day=date(2026, 5, 4))
    kept = schedules.plan_shift(agent=berlin, template=core, day=date(2026, 5, 6))
    off = schedules.time_off_for_days(agent=berlin, first=date(2026, 5, 4),
                                      last=date(2026, 5, 5), reason="Dentist")
    assert off.starts_at == utc(2026, 5, 3, 22)  # local midnight in Berlin
    decided, cancelled = schedules.approve_time_off(off, actor=lead)
    assert decided.status == TimeOff.Status.APPROVED
    assert decided.decided_by == lead and decided.decided_at is not None
    assert [s.starts_at for s in cancelled] == [utc(2026, 5, 4, 7)]
    assert list(ScheduledShift.objects.all()) == kept


def test_time_off_is_decided_once(agent, lead):
    off = schedules.time_off_for_days(agent=agent, first=date(2026, 5, 4),
                                      last=date(2026, 5, 4))
    schedules.reject_time_off(off, actor=lead)
    with pytest.raises(ValidationError, match="already rejected"):
        schedules.approve_time_off(off, actor=lead)


def test_nobody_approves_their_own_time_off(lead):
    off = schedules.time_off_for_days(agent=lead, first=date(2026, 5, 4), last=date(2026, 5, 4))
    with pytest.raises(ValidationError, match="your own"):
        schedules.approve_time_off(off, actor=lead)


def test_overlapping_time_off_requests_are_refused(agent):
    schedules.time_off_for_days(agent=agent, first=date(2026, 5, 4), last=date(2026, 5, 6))
    with pytest.raises(ValidationError, match="already requested"):
        schedules.time_off_for_days(agent=agent, first=date(2026, 5, 6), last=date(2026, 5, 7))


# --- status intervals -------------------------------------------------------------------------

def test_switching_status_closes_the_previous_interval(agent):
    with time_machine.travel(utc(2026, 5, 4, 9), tick=False):
        first = schedules.set_status(agent=agent, status=AgentState.AVAILABLE)
    with time_machine.travel(utc(2026, 5, 4, 11), tick=False):
        again = schedules.set_status(agent=agent, status=AgentState.AVAILABLE)
        second = schedules.set_status(agent=agent, status=AgentState.BREAK)
    assert again.pk == first.pk
    first.refresh_from_db()
    assert first.ended_at == utc(2026, 5, 4, 11)
    assert second.ended_at is None
    assert wf_selectors.current_status(agent) == second
    assert AgentStatus.objects.filter(agent=agent).count() == 2


def test_unknown_status_is_refused(agent):
    with pytest.raises(ValidationError):
        schedules.set_status(agent=agent, status="napping")


# --- adherence ------------------------------------------------------------------------------

def test_adherence_arithmetic_eight_hour_shift_with_break():
    shift = (utc(2026, 5, 4, 9), utc(2026, 5, 4, 17), 30)
    available = [(utc(2026, 5, 4, 8), utc(2026, 5, 4, 12)),  # 3 h inside the shift
                 (utc(2026, 5, 4, 13), utc(2026, 5, 4, 16))]  # 3 h
    result = shift_time.adherence_of([shift], available)
    assert (result.productive_minutes, result.scheduled_minutes) == (360, 450)
    assert result.fraction == pytest.approx(0.8)
    assert result.percent == 80


def test_adherence_is_capped_and_empty_without_shifts():
    shift = (utc(2026, 5, 4, 9), utc(2026, 5, 4, 17), 30)
    full = shift_time.adherence_of([shift], [(utc(2026, 5, 4, 0), utc(2026, 5, 5, 0))])
    assert full.fraction == 1.0
    assert shift_time.adherence_of([], []).fraction is None


def test_overlap_merges_overlapping_intervals():
    a = [(utc(2026, 1, 1, 9), utc(2026, 1, 1, 12)), (utc(2026, 1, 1, 11), utc(2026, 1, 1, 13))]
    b = [(utc(2026, 1, 1, 10), utc(2026, 1, 1, 20))]
    assert shift_time.overlap(a, b) == timedelta(hours=3)


def test_adherence_week_per_agent_and_day(agent, core):
    schedules.plan_shift(agent=agent, template=core, day=date(2026, 5, 4))
    AgentStatus.objects.create(agent=agent, status=AgentState.AVAILABLE,
                               started_at=utc(2026, 5, 4, 9), ended_at=utc(2026, 5, 4, 15))
    AgentStatus.objects.create(agent=agent, status=AgentState.BREAK,
                               started_at=utc(2026, 5, 4, 15), ended_at=utc(2026, 5, 4, 17))
    report = wf_selectors.adherence_week([agent], date(2026, 5, 4))[agent.pk]
    assert report[0].percent == 80
    assert report[1].fraction is None


# --- routing ------------------------------------------------------------------------------

@pytest.fixture
def rr_team(l1, agent):
    l1.assignment_strategy = AssignmentStrategy.ROUND_ROBIN
    l1.save(update_fields=["assignment_strategy"])
    return l1


def _pick(team, customer):
    # `agent` is the only member of the team: nobody else can be picked
    assert list(team.memberships.values_list("user__username", flat=True)) == ["agnes"]
    return assignment.pick_assignee(make_ticket(customer), team)


def test_filter_is_registered_by_the_workforce_app():
    assert wf_selectors.available_members in assignment.availability_filters


@pytest.mark.parametrize("situation", ["off_shift", "time_off", "offline"])
def test_unavailable_agent_gets_no_auto_assignment(rr_team, agent, manager, customer_a,
                                                   situation):
    with time_machine.travel(utc(2026, 5, 4, 12), tick=False):
        if situation == "off_shift":
            schedules.add_shift(agent=agent, starts_at=utc(2026, 5, 5, 9),
                                ends_at=utc(2026, 5, 5, 17))
        elif situation == "time_off":
            off = schedules.time_off_for_days(agent=agent, first=date(2026, 5, 4),
                                              last=date(2026, 5, 4))
            schedules.approve_time_off(off, actor=manager)
        else:
            schedules.set_status(agent=agent, status=AgentState.OFFLINE)
        assert _pick(rr_team, customer_a) is None


def test_agent_on_shift_gets_work(rr_team, agent, customer_a):
    with time_machine.travel(utc(2026, 5, 4, 12), tick=False):
        schedules.add_shift(agent=agent, starts_at=utc(2026, 5, 4, 9),
                            ends_at=utc(2026, 5, 4, 17))
        schedules.set_status(agent=agent, status=AgentState.AVAILABLE)
        assert _pick(rr_team, customer_a) == agent


def test_agent_without_any_schedule_still_gets_work(rr_team, agent, customer_a):
    with time_machine.travel(utc(2026, 5, 4, 12), tick=False):
        schedules.add_shift(agent=agent, starts_at=utc(2026, 4, 1, 9),
                            ends_at=utc(2026, 4, 1, 17))  # long ago: outside ±7 days
        assert _pick(rr_team, customer_a) == agent


def test_availability_filter_is_one_query(rr_team, agent, django_assert_num_queries):
    members = assignment._available(rr_team)
    with django_assert_num_queries(1):
        list(members)


# --- views ----------------------------------------------------------------------------------

@pytest.fixture
def other_agent(l1):
    return make_user(Role.AGENT, teams=(l1,), username="otto")


def test_pages_are_404_for_customers(client, customer_a, l1):
    client.force_login(customer_a)
    for url in (reverse("workforce_schedules:week", args=[l1.slug]),
                reverse("workforce_schedules:time_off"),
                reverse("workforce_schedules:my_status"),
                reverse("workforce_schedules:adherence", args=[l1.slug])):
        assert client.get(url).status_code == 404


def test_anonymous_is_sent_to_login(client, l1):
    response = client.get(reverse("workforce_schedules:week", args=[l1.slug]))
    assert response.status_code == 302 and "login" in response["Location"]


def test_lead_sees_team_grid_with_local_times(client, lead, berlin, other_agent, core):
    schedules.plan_shift(agent=berlin, template=core, day=date(2026, 5, 4))
    off = schedules.time_off_for_days(agent=other_agent, first=date(2026, 5, 5),
                                      last=date(2026, 5, 5))
    assert off.status == TimeOff.Status.REQUESTED
    client.force_login(lead)
    response = client.get(reverse("workforce_schedules:week", args=[berlin.teams.first().slug]),
                          {"week": "2026-05-06"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "09:00" in html and "17:00" in html  # Berlin local, not 07:00 UTC
    assert "Time off (requested)" in html
    assert "Otto" in html and "Add a shift" in html


def test_agent_sees_only_own_row_and_cannot_add_shifts(client, agent, other_agent, l1, core):
    client.force_login(agent)
    html = client.get(reverse("workforce_schedules:week", args=[l1.slug])).content.decode()
    assert "Agnes" in html and "Otto" not in html and "Add a shift" not in html
    assert client.get(reverse("workforce_schedules:add_shift", args=[l1.slug])).status_code \
        == 404
    response = client.post(reverse("workforce_schedules:add_shift", args=[l1.slug]),
                           {"agent": other_agent.pk, "template": core.pk, "day": "2026-05-04"})
    assert response.status_code == 404
    assert not ScheduledShift.objects.exists()


def test_agent_cannot_see_another_teams_schedule(client, agent, l2):
    client.force_login(agent)
    assert client.get(reverse("workforce_schedules:week", args=[l2.slug])).status_code == 404


def test_lead_adds_shift_and_sees_conflicts(client, lead, agent, l1, core):
    client.force_login(lead)
    url = reverse("workforce_schedules:add_shift", args=[l1.slug])
    data = {"agent": agent.pk, "template": core.pk, "day": "2026-05-04"}
    response = client.post(url, data)
    assert response.status_code == 302
    assert ScheduledShift.objects.filter(agent=agent, team=l1).count() == 1
    response = client.post(url, data)
    assert response.status_code == 422
    assert "already has a shift" in response.content.decode()


def test_manager_may_plan_any_team(client, manager, l2_agent, l2, core):
    client.force_login(manager)
    response = client.post(reverse("workforce_schedules:add_shift", args=[l2.slug]),
                           {"agent": l2_agent.pk, "template": core.pk, "day": "2026-05-04"})
    assert response.status_code == 302


def test_time_off_request_and_lead_approval_through_pages(client, agent, lead, core):
    schedules.plan_shift(agent=agent, template=core, day=date(2026, 5, 4))
    client.force_login(agent)
    url = reverse("workforce_schedules:time_off")
    response = client.post(url, {"first": "2026-05-04", "last": "2026-05-04",
                                 "reason": "Family"})
    assert response.status_code == 302
    off = TimeOff.objects.get(agent=agent)
    # the agent cannot decide (not a lead): 404
    decide = reverse("workforce_schedules:decide_time_off", args=[off.pk])
    assert client.post(decide, {"decision": "approve"}).status_code == 404
    client.force_login(lead)
    assert "Family" in client.get(url).content.decode()
    response = client.post(decide, {"decision": "approve"}, follow=True)
    assert "Cancelled shifts" in response.content.decode()
    off.refresh_from_db()
    assert off.status == TimeOff.Status.APPROVED
    assert not ScheduledShift.objects.exists()


def test_invalid_time_off_shows_error(client, agent):
    client.force_login(agent)
    response = client.post(reverse("workforce_schedules:time_off"),
                           {"first": "2026-05-06", "last": "2026-05-04"})
    assert response.status_code == 422
    assert "before the first" in response.content.decode()


def test_status_switcher_htmx(client, agent):
    client.force_login(agent)
    url = reverse("workforce_schedules:my_status")
    response = client.post(url, {"status": "meeting"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and "Meeting" in html
    assert wf_selectors.current_status(agent).status == AgentState.MEETING
    assert client.post(url, {"status": "bogus"}, HTTP_HX_REQUEST="true").status_code == 422


def test_adherence_page(client, lead, agent, l1, core):
    schedules.plan_shift(agent=agent, template=core, day=date(2026, 5, 4))
    AgentStatus.objects.create(agent=agent, status=AgentState.AVAILABLE,
                               started_at=utc(2026, 5, 4, 9), ended_at=utc(2026, 5, 4, 15))
    client.force_login(lead)
    response = client.get(reverse("workforce_schedules:adherence", args=[l1.slug]),
                          {"week": "2026-05-04"})
    html = response.content.decode()
    assert "80 %" in html and "360 / 450 min" in html


def test_pages_have_no_inline_scripts_or_styles(client, lead, l1):
    client.force_login(lead)
    for url in (reverse("workforce_schedules:week", args=[l1.slug]),
                reverse("workforce_schedules:time_off"),
                reverse("workforce_schedules:my_status"),
                reverse("workforce_schedules:adherence", args=[l1.slug]),
                reverse("workforce_schedules:add_shift", args=[l1.slug])):
        html = client.get(url).content.decode()
        assert "<script>" not in html and "style=" not in html and "<style" not in html

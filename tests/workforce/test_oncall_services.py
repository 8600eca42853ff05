"""On-call services and pages: who is on call, overrides and swaps, the paged-twice rule
with real pages, after-hours pages, idempotent pages, escalation, iCalendar, the views.

The rotation: Europe/Berlin, handoff Monday 09:00, from Monday 2 March 2026; members
ann, bob, cem. Week 1 runs from Mon 9 March 08:00 UTC to Mon 16 March 08:00 UTC.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from helpdesk.models import Notification
from helpdesk.roles import Role
from tests.factories import make_user
from workforce.models import OnCallOverride, OnCallRole, Page, Rotation, RotationMember
from workforce.services import oncall as svc
from workforce.tasks import escalate_unacknowledged_pages

WEEK1_TUESDAY_NOON = datetime(2026, 3, 10, 11, tzinfo=UTC)  # 12:00 Berlin
WEEK1_TUESDAY_EVENING = datetime(2026, 3, 10, 19, tzinfo=UTC)  # 20:00 Berlin
WEEK1_SATURDAY = datetime(2026, 3, 14, 11, tzinfo=UTC)


@pytest.fixture
def people(db):
    return {name: make_user(Role.AGENT, username=name) for name in ("ann", "bob", "cem")}


@pytest.fixture
def rotation(people):
    rot = Rotation.objects.create(name="Platform", timezone="Europe/Berlin", handoff_weekday=0,
                                  handoff_time=time(9), starts_on=date(2026, 3, 2))
    for i, name in enumerate(("ann", "bob", "cem")):
        RotationMember.objects.create(rotation=rot, user=people[name], position=i)
    return rot


def names(turn: svc.Turn) -> tuple[str | None, str | None]:
    return (turn.primary.username if turn.primary else None,
            turn.secondary.username if turn.secondary else None)


# --- who is on call ---------------------------------------------------------------------

def test_now_and_next(rotation):
    assert names(svc.current_turn(rotation, at=WEEK1_TUESDAY_NOON)) == ("bob", "cem")
    assert names(svc.next_turn(rotation, at=WEEK1_TUESDAY_NOON)) == ("cem", "ann")
    assert svc.on_call(rotation, at=WEEK1_TUESDAY_NOON).username == "bob"
    assert svc.on_call(rotation, at=WEEK1_TUESDAY_NOON,
                       role=OnCallRole.SECONDARY).username == "cem"


def test_handoff_happens_at_nine_local_time(rotation):
    handoff = datetime(2026, 3, 16, 8, tzinfo=UTC)  # 09:00 CET
    assert svc.on_call(rotation, at=handoff - timedelta(seconds=1)).username == "bob"
    assert svc.on_call(rotation, at=handoff).username == "cem"


def test_upcoming_turns_after_the_spring_change(rotation):
    plan = svc.upcoming_turns(rotation, weeks=8, at=WEEK1_TUESDAY_NOON)
    assert [p.week for p in plan] == list(range(1, 9))
    assert [p.primary.username for p in plan] == ["bob", "cem", "ann"] * 2 + ["bob", "cem"]
    hours = {p.starts_at.date(): p.hours for p in plan}
    assert hours[date(2026, 3, 23)] == 167  # ends on 30 March, after the change to CEST
    assert all(h == 168 for d, h in hours.items() if d != date(2026, 3, 23))


def test_nobody_on_call_before_the_rotation_starts(rotation):
    assert svc.on_call(rotation, at=datetime(2026, 2, 1, tzinfo=UTC)) is None


def test_an_override_replaces_the_role_during_its_window_only(rotation, people):
    svc.add_override(rotation, role=OnCallRole.PRIMARY, user=people["ann"],
                     starts_at=datetime(2026, 3, 11, tzinfo=UTC),
                     ends_at=datetime(2026, 3, 12, tzinfo=UTC), reason="Bob at the dentist")
    assert svc.on_call(rotation, at=datetime(2026, 3, 11, 12, tzinfo=UTC)).username == "ann"
    assert svc.on_call(rotation, at=datetime(2026, 3, 12, 12, tzinfo=UTC)).username == "bob"
    assert svc.on_call(rotation, at=datetime(2026, 3, 11, 12, tzinfo=UTC),
                       role=OnCallRole.SECONDARY).username == "cem"


def test_the_newest_override_wins_an_overlap(rotation, people):
    window = {"starts_at": datetime(2026, 3, 10, tzinfo=UTC),
              "ends_at": datetime(2026, 3, 12, tzinfo=UTC)}
    svc.add_override(rotation, role=OnCallRole.PRIMARY, user=people["ann"], **window)
    svc.add_override(rotation, role=OnCallRole.PRIMARY, user=people["cem"], **window)
    assert svc.on_call(rotation, at=WEEK1_TUESDAY_NOON).username == "cem"


def test_override_into_next_turn_changes_next(rotation, people):
    svc.add_override(rotation, role=OnCallRole.SECONDARY, user=people["bob"],
                     starts_at=datetime(2026, 3, 16, 8, tzinfo=UTC),
                     ends_at=datetime(2026, 3, 23, 8, tzinfo=UTC))
    assert names(svc.next_turn(rotation, at=WEEK1_TUESDAY_NOON)) == ("cem", "bob")


def test_override_validation(rotation, people):
    customer = make_user(Role.CUSTOMER, username="carl")
    with pytest.raises(ValidationError):
        svc.add_override(rotation, role=OnCallRole.PRIMARY, user=people["ann"],
                         starts_at=WEEK1_TUESDAY_NOON, ends_at=WEEK1_TUESDAY_NOON)
    with pytest.raises(ValidationError):
        svc.add_override(rotation, role=OnCallRole.PRIMARY, user=customer,
                         starts_at=WEEK1_TUESDAY_NOON,
                         ends_at=WEEK1_TUESDAY_NOON + timedelta(hours=1))
    qa = make_user(Role.QA_REVIEWER, username="quinn")
    with pytest.raises(PermissionDenied):
        svc.add_override(rotation, role=OnCallRole.PRIMARY, user=people["ann"],
                         starts_at=WEEK1_TUESDAY_NOON,
                         ends_at=WEEK1_TUESDAY_NOON + timedelta(hours=1), actor=qa)


def test_a_swap_is_two_mirrored_overrides(rotation, lead):
    first, second = svc.swap_turns(rotation, week_a=1, week_b=2, actor=lead)
    assert first.swap_with == second and second.swap_with == first
    assert names(svc.current_turn(rotation, at=WEEK1_TUESDAY_NOON)) == ("cem", "cem")
    assert names(svc.next_turn(rotation, at=WEEK1_TUESDAY_NOON)) == ("bob", "ann")
    assert names(svc.turns(rotation, [3])[0]) == ("ann", "bob")  # untouched
    svc.remove_override(first, actor=lead)
    assert not OnCallOverride.objects.exists()
    assert names(svc.current_turn(rotation, at=WEEK1_TUESDAY_NOON)) == ("bob", "cem")


def test_swap_needs_two_different_people(rotation):
    with pytest.raises(ValidationError):
        svc.swap_turns(rotation, week_a=1, week_b=4)  # bob and bob
    with pytest.raises(ValidationError):
        svc.swap_turns(rotation, week_a=1, week_b=1)
    assert not OnCallOverride.objects.exists()


# --- the paged-twice rule with real pages -----------------------------------------------

def test_paged_twice_is_skipped_next_week_then_back_in_order(rotation):
    for hour in (10, 11):  # cem, secondary in week 1, is paged twice
        svc.page(rotation, reason="DB down", priority=1, role=OnCallRole.SECONDARY,
                 at=datetime(2026, 3, 10, hour, tzinfo=UTC))
    plan = svc.turns(rotation, [1, 2, 3, 4])
    assert [names(t) for t in plan] == [("bob", "cem"), ("ann", "bob"), ("ann", "bob"),
                                        ("bob", "cem")]
    assert [u.username for u in plan[1].skipped] == ["cem"]
    assert plan[2].skipped == []


def test_paged_once_stays_in_turn(rotation):
    svc.page(rotation, reason="DB slow", priority=1, role=OnCallRole.SECONDARY,
             at=WEEK1_TUESDAY_NOON)
    assert names(svc.turns(rotation, [2])[0]) == ("cem", "ann")


def test_pages_just_before_a_handoff_count_for_the_ending_week(rotation):
    handoff = datetime(2026, 3, 16, 8, tzinfo=UTC)
    svc.page(rotation, reason="a", priority=1, at=handoff - timedelta(minutes=2),
             role=OnCallRole.SECONDARY)
    svc.page(rotation, reason="b", priority=1, at=handoff - timedelta(minutes=1),
             role=OnCallRole.SECONDARY)
    assert names(svc.turns(rotation, [2])[0]) == ("ann", "bob")


# --- pages: after hours and idempotency -------------------------------------------------

def test_after_hours_only_p1_goes_out(rotation):
    refused = svc.page(rotation, reason="Slow search", priority=3, at=WEEK1_TUESDAY_EVENING)
    assert refused.page is None and not refused.sent
    assert "only for P1" in refused.refused
    assert not Page.objects.exists() and not Notification.objects.exists()

    assert svc.page(rotation, reason="Weekend P2", priority=2, at=WEEK1_SATURDAY).page is None

    sent = svc.page(rotation, reason="Checkout down", priority=1, at=WEEK1_TUESDAY_EVENING)
    assert sent.sent and sent.page.after_hours and sent.page.user.username == "bob"
    note = Notification.objects.get()
    assert note.urgent and note.recipient.username == "bob"


def test_business_hours_page_any_priority_and_not_urgent(rotation):
    outcome = svc.page(rotation, reason="Slow search", priority=3, at=WEEK1_TUESDAY_NOON)
    assert outcome.sent and not outcome.page.after_hours
    assert not Notification.objects.get().urgent


def test_after_hours_rule_can_be_switched_off(rotation):
    rotation.after_hours_p1_only = False
    rotation.save()
    assert svc.page(rotation, reason="Slow search", priority=3, at=WEEK1_TUESDAY_EVENING).sent


def test_same_dedupe_key_twice_gives_one_page_and_one_notification(rotation):
    a = svc.page(rotation, reason="Outage", priority=1, at=WEEK1_TUESDAY_NOON,
                 dedupe_key="incident:7:oncall")
    b = svc.page(rotation, reason="Outage", priority=1, at=WEEK1_TUESDAY_NOON,
                 dedupe_key="incident:7:oncall")
    assert a.created and not b.created and a.page.pk == b.page.pk
    assert Page.objects.count() == 1 and Notification.objects.count() == 1


def test_page_with_nobody_on_call_is_refused(db):
    rot = Rotation.objects.create(name="Empty", starts_on=date(2026, 3, 2))
    outcome = svc.page(rot, reason="x", priority=1, at=WEEK1_TUESDAY_NOON)
    assert outcome.page is None and "Nobody" in outcome.refused


# --- escalation -------------------------------------------------------------------------

def test_default_policy_steps_and_targets(rotation, manager):
    policy = svc.create_policy(rotation, name="Platform default")
    assert [(s.after_minutes, s.target) for s in policy.steps.all()] == [
        (5, "primary"), (15, "secondary"), (30, "managers")]
    start = WEEK1_TUESDAY_NOON
    assert svc.escalation_targets(policy, started_at=start, now=start) == []
    at_16 = svc.escalation_targets(policy, started_at=start, now=start + timedelta(minutes=16))
    assert [(t.step.after_minutes, t.user.username) for t in at_16] == [(5, "bob"), (15, "cem")]
    at_30 = svc.escalation_targets(policy, started_at=start, now=start + timedelta(minutes=30))
    assert [t.user.username for t in at_30] == ["bob", "cem", "max"]


def test_escalation_pages_secondary_at_15_and_manager_at_30_exactly_once(rotation, manager):
    svc.create_policy(rotation, name="Platform default")
    start = WEEK1_TUESDAY_NOON
    with time_machine.travel(start, tick=False) as traveller:
        root = svc.page(rotation, reason="Checkout down", priority=1).page
        escalate_unacknowledged_pages.delay()
        traveller.move_to(start + timedelta(minutes=5))
        assert escalate_unacknowledged_pages() == 0  # the primary was paged already
        traveller.move_to(start + timedelta(minutes=14, seconds=59))
        assert escalate_unacknowledged_pages() == 0
        traveller.move_to(start + timedelta(minutes=15))
        assert escalate_unacknowledged_pages() == 1
        assert escalate_unacknowledged_pages() == 0
        traveller.move_to(start + timedelta(minutes=30))
        assert escalate_unacknowledged_pages() == 1
        escalate_unacknowledged_pages()
        traveller.move_to(start + timedelta(hours=2))
        escalate_unacknowledged_pages()
    pages = list(Page.objects.order_by("created_at"))
    assert [(p.user.username, p.role) for p in pages] == [
        ("bob", "primary"), ("cem", "secondary"), ("max", "managers")]
    assert pages[1].created_at == start + timedelta(minutes=15)
    assert pages[2].created_at == start + timedelta(minutes=30)
    assert Notification.objects.filter(recipient__username="cem").count() == 1
    assert Notification.objects.filter(recipient__username="max").count() == 1
    assert all(p.priority == 1 and p.ticket_id == root.ticket_id for p in pages)


def test_acknowledging_stops_escalation(rotation, manager, people):
    svc.create_policy(rotation, name="Platform default")
    start = WEEK1_TUESDAY_NOON
    with time_machine.travel(start, tick=False) as traveller:
        root = svc.page(rotation, reason="Checkout down", priority=1).page
        traveller.move_to(start + timedelta(minutes=16))
        escalate_unacknowledged_pages()
        escalated = Page.objects.get(user__username="cem")
        with pytest.raises(PermissionDenied):
            svc.acknowledge(escalated, user=people["bob"])
        assert svc.acknowledge(escalated, user=people["cem"]) == 2  # the whole chain
        traveller.move_to(start + timedelta(minutes=45))
        assert escalate_unacknowledged_pages() == 0
    root.refresh_from_db()
    assert root.acknowledged_at == start + timedelta(minutes=16)
    assert not Page.objects.filter(user=manager).exists()


def test_no_policy_no_escalation(rotation):
    with time_machine.travel(WEEK1_TUESDAY_NOON, tick=False) as traveller:
        svc.page(rotation, reason="x", priority=1)
        traveller.move_to(WEEK1_TUESDAY_NOON + timedelta(hours=1))
        assert escalate_unacknowledged_pages() == 0


# --- iCalendar --------------------------------------------------------------------------

def test_ical_has_one_event_per_turn_and_role_with_stable_uids(rotation, people):
    svc.add_override(rotation, role=OnCallRole.PRIMARY, user=people["ann"],
                     starts_at=datetime(2026, 3, 11, tzinfo=UTC),
                     ends_at=datetime(2026, 3, 12, tzinfo=UTC), reason="Dentist")
    text = svc.ical(rotation, weeks=8, at=WEEK1_TUESDAY_NOON)
    later = svc.ical(rotation, weeks=8, at=WEEK1_TUESDAY_NOON + timedelta(days=1))
    lines = text.replace("\r\n ", "").split("\r\n")
    assert lines.count("BEGIN:VEVENT") == 8 * 2 + 1
    uids = [line for line in lines if line.startswith("UID:")]
    assert len(set(uids)) == len(uids)
    assert f"UID:rotation-{rotation.pk}-week-1-primary@helpdesk" in uids
    assert set(uids) == {line for line in later.replace("\r\n ", "").split("\r\n")
                         if line.startswith("UID:")}
    assert "DTSTART:20260309T080000Z" in lines
    assert "DTEND:20260330T070000Z" in lines  # the turn across the spring change
    assert all(line.endswith("Z") for line in lines if line.startswith(("DTSTART", "DTEND")))


# --- views ------------------------------------------------------------------------------

def test_views_are_for_agents_only(client, rotation, customer_a):
    client.force_login(customer_a)
    assert client.get(reverse("workforce_oncall:rotations")).status_code == 404
    assert client.get(reverse("workforce_oncall:ical", args=[rotation.pk])).status_code == 404
    client.logout()
    assert client.get(reverse("workforce_oncall:rotations")).status_code == 302


def test_rotations_list_shows_now_and_next(client, rotation, agent):
    client.force_login(agent)
    with time_machine.travel(WEEK1_TUESDAY_NOON, tick=False):
        response = client.get(reverse("workforce_oncall:rotations"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Platform" in html and "Bob" in html and "Cem" in html


def test_rotation_page_and_ical_download(client, rotation, agent):
    client.force_login(agent)
    with time_machine.travel(WEEK1_TUESDAY_NOON, tick=False):
        svc.page(rotation, reason="Checkout down", priority=1)
        page = client.get(reverse("workforce_oncall:rotation", args=[rotation.pk]))
        ics = client.get(reverse("workforce_oncall:ical", args=[rotation.pk]))
    assert page.status_code == 200 and "Checkout down" in page.content.decode()
    assert ics["Content-Type"].startswith("text/calendar")
    assert ics.content.startswith(b"BEGIN:VCALENDAR\r\n")


def test_lead_adds_an_override_in_the_rotation_time_zone(client, rotation, lead, people):
    client.force_login(lead)
    url = reverse("workforce_oncall:add_override", args=[rotation.pk])
    with time_machine.travel(WEEK1_TUESDAY_NOON, tick=False):
        response = client.post(url, {"role": "primary", "user": people["ann"].pk,
                                     "starts_at": "2026-03-11T09:00",
                                     "ends_at": "2026-03-11T18:00", "reason": "Cover"})
    assert response.status_code == 302
    override = OnCallOverride.objects.get()
    assert override.starts_at == datetime(2026, 3, 11, 8, tzinfo=UTC)  # 09:00 CET
    assert override.created_by == lead


def test_lead_swaps_two_turns_from_the_page(client, rotation, lead):
    client.force_login(lead)
    with time_machine.travel(WEEK1_TUESDAY_NOON, tick=False):
        response = client.post(reverse("workforce_oncall:swap", args=[rotation.pk]),
                               {"role": "primary", "week_a": 1, "week_b": 2})
        assert response.status_code == 302
        assert svc.on_call(rotation).username == "cem"


def test_reviewer_without_permission_cannot_override(client, rotation, people):
    qa = make_user(Role.QA_REVIEWER, username="quinn")
    client.force_login(qa)
    response = client.post(reverse("workforce_oncall:add_override", args=[rotation.pk]),
                           {"role": "primary", "user": people["ann"].pk,
                            "starts_at": "2026-03-11T09:00", "ends_at": "2026-03-11T18:00"})
    assert response.status_code == 403
    assert not OnCallOverride.objects.exists()


def test_only_the_paged_person_acknowledges(client, rotation, people):
    with time_machine.travel(WEEK1_TUESDAY_NOON, tick=False):
        paged = svc.page(rotation, reason="Checkout down", priority=1).page
        url = reverse("workforce_oncall:acknowledge", args=[paged.pk])
        client.force_login(people["ann"])
        assert client.post(url).status_code == 404
        client.force_login(people["bob"])
        assert client.get(url).status_code == 405
        assert client.post(url).status_code == 302
    paged.refresh_from_db()
    assert paged.acknowledged_at == WEEK1_TUESDAY_NOON


def test_forms_only_for_those_who_may_change_the_plan(client, rotation, lead):
    url = reverse("workforce_oncall:rotation", args=[rotation.pk])
    client.force_login(lead)
    html = client.get(url).content.decode()
    assert "Add an override" in html and "Swap two turns" in html
    client.force_login(make_user(Role.QA_REVIEWER, username="quinn"))
    html = client.get(url).content.decode()
    assert "Add an override" not in html and "Swap two turns" not in html


def test_rotation_not_started_yet_shows_next_turn(client, rotation, agent):
    client.force_login(agent)
    with time_machine.travel(datetime(2026, 2, 20, tzinfo=UTC), tick=False):
        html = client.get(reverse("workforce_oncall:rotations")).content.decode()
    assert "has not started yet" in html and "Ann" in html


@pytest.mark.django_db
def test_only_leads_and_managers_may_change_the_rota(agent, lead, manager):
    from workforce.services.oncall import can_manage

    assert not can_manage(agent)
    assert can_manage(lead) and can_manage(manager)


def test_cover_is_offered_to_active_staff_of_every_role_only(db):
    """The override form's "covered by" list: active members of a staff role, each once,
    never a customer or a deactivated agent."""
    from workforce import selectors

    agent = make_user(Role.AGENT, username="aga")
    make_user(Role.CUSTOMER, username="cus")
    gone = make_user(Role.AGENT, username="gone")
    gone.is_active = False
    gone.save()
    both = make_user(Role.MANAGER, username="two-hats")
    both.groups.add(*agent.groups.all())  # a manager who is also in the agent group

    names = [u.username for u in selectors.staff()]
    assert "aga" in names and "two-hats" in names
    assert names.count("two-hats") == 1
    assert "cus" not in names and "gone" not in names

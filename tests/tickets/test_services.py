"""Ticket services: replies, routing, assignment, escalation, merge, macros and the audit trail."""
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from helpdesk.models import AssignmentStrategy, Skill, SupportTier
from helpdesk.roles import Role
from tests.factories import PACKET, make_org, make_ticket, make_user, team
from tickets import events, services
from tickets.models import (
    Category,
    Channel,
    Escalation,
    Macro,
    Message,
    Priority,
    Tag,
    Ticket,
    TicketEvent,
    Trigger,
)
from tickets.state_machine import Status, TransitionError

pytestmark = pytest.mark.django_db


def set_status(ticket, status):
    Ticket.objects.filter(pk=ticket.pk).update(status=status)
    ticket.refresh_from_db()
    return ticket


# --- creation and conversation --------------------------------------------------------

def test_new_ticket_records_creation_and_takes_the_requesters_organization(customer_a, org_a):
    ticket = make_ticket(customer_a)
    assert ticket.organization == org_a
    assert ticket.status == "new"
    assert list(ticket.events.values_list("kind", flat=True)) == ["created"]


def test_empty_subject_is_refused_and_nothing_is_stored(customer_a):
    with pytest.raises(ValidationError):
        make_ticket(customer_a, subject="   ")
    assert Ticket.objects.count() == 0


def test_first_public_agent_reply_sets_first_response_but_notes_do_not(ticket_a, agent):
    services.add_reply(ticket_a, author=agent, body="Internal: looks like SSO", public=False)
    ticket_a.refresh_from_db()
    assert ticket_a.first_response_at is None
    with time_machine.travel(timezone.now() + timedelta(minutes=7), tick=False):
        services.add_reply(ticket_a, author=agent, body="Hi Alice, looking into it.")
        replied_at = timezone.now()
    ticket_a.refresh_from_db()
    assert ticket_a.first_response_at == replied_at
    services.add_reply(ticket_a, author=agent, body="Second reply")
    ticket_a.refresh_from_db()
    assert ticket_a.first_response_at == replied_at


def test_customer_reply_to_waiting_ticket_resumes_work(ticket_a, customer_a, agent):
    services.assign(ticket_a, assignee=agent, actor=agent)
    services.transition(ticket_a, "waiting_on_customer", actor=agent, reason="need logs")
    services.add_reply(ticket_a, author=customer_a, body="Logs attached")
    ticket_a.refresh_from_db()
    assert ticket_a.status == "in_progress"
    assert ticket_a.waiting_reason == ""


def test_customer_reply_to_resolved_ticket_reopens_it(ticket_a, customer_a, agent):
    services.transition(ticket_a, "resolved", actor=agent)
    services.add_reply(ticket_a, author=customer_a, body="Still broken")
    ticket_a.refresh_from_db()
    assert (ticket_a.status, ticket_a.reopen_count, ticket_a.resolved_at) == (
        "in_progress", 1, None)


def test_reply_to_closed_ticket_is_refused(ticket_a, customer_a, agent):
    services.transition(ticket_a, "closed", actor=agent, reason="spam")
    with pytest.raises(TransitionError, match="closed"):
        services.add_reply(ticket_a, author=customer_a, body="Hello?")
    assert ticket_a.messages.count() == 0


def test_customer_cannot_write_internal_notes(ticket_a, customer_a):
    with pytest.raises(PermissionDenied):
        services.add_reply(ticket_a, author=customer_a, body="secret", public=False)


def test_customer_cannot_escalate_or_change_fields(ticket_a, customer_a, l2):
    with pytest.raises(services.StaffOnlyField):
        services.transition(ticket_a, "escalated", actor=customer_a, packet=PACKET, to_team=l2)
    with pytest.raises(TransitionError):
        services.transition(ticket_a, "escalated", actor=customer_a)
    with pytest.raises(PermissionDenied):
        services.update_ticket(ticket_a, actor=customer_a, changes={"priority": 1})


def test_other_customer_cannot_transition_a_ticket(ticket_a, customer_b):
    with pytest.raises(PermissionDenied):
        services.transition(ticket_a, "resolved", actor=customer_b)
    ticket_a.refresh_from_db()
    assert ticket_a.status == "new"


# --- field changes and audit ----------------------------------------------------------

def test_every_field_change_is_audited_with_before_and_after(ticket_a, agent, l2):
    category = Category.objects.get(slug="billing")
    services.update_ticket(ticket_a, actor=agent, changes={
        "priority": Priority.P2, "category": category, "team": l2, "tags": ["vip", "sso"],
        "subject": "SSO login broken",
    })
    rows = {e.field: (e.before, e.after, e.actor) for e in ticket_a.events.filter(kind="field")}
    assert rows["priority"] == ("P3", "P2", agent)
    assert rows["category"] == ("", "Billing", agent)
    assert rows["team"] == ("L1 General", "L2 Technical", agent)
    assert rows["tags"] == ("", "sso, vip", agent)
    assert rows["subject"] == ("Cannot log in", "SSO login broken", agent)


def test_assigning_a_new_ticket_moves_it_to_assigned(ticket_a, agent):
    services.assign(ticket_a, assignee=agent, actor=agent)
    ticket_a.refresh_from_db()
    assert (ticket_a.status, ticket_a.assignee) == ("assigned", agent)
    services.assign(ticket_a, assignee=None, actor=agent)
    ticket_a.refresh_from_db()
    assert (ticket_a.status, ticket_a.assignee) == ("triaged", None)


def test_tickets_cannot_be_assigned_to_customers(ticket_a, agent, customer_b):
    with pytest.raises(ValidationError):
        services.assign(ticket_a, assignee=customer_b, actor=agent)


def test_audit_events_are_append_only(ticket_a):
    event = ticket_a.events.first()
    event.note = "tampered"
    with pytest.raises(Exception, match="append-only"):
        event.save()
    with pytest.raises(Exception, match="append-only"):
        event.delete()


def test_domain_events_are_dispatched_after_commit(
        ticket_a, agent, django_capture_on_commit_callbacks):
    seen = []
    events.subscribe(events.StatusChanged, seen.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.transition(ticket_a, "triaged", actor=agent)
            assert seen == []  # nothing before commit
    finally:
        events.unsubscribe(events.StatusChanged, seen.append)
    assert [(e.ticket_id, e.before, e.after) for e in seen] == [(ticket_a.pk, "new", "triaged")]


# --- routing --------------------------------------------------------------------------

def _created(name: str, order: int, conditions: list, actions: list, **kw) -> Trigger:
    return Trigger.objects.create(name=name, order=order, events=["created"],
                                  conditions=conditions, actions=actions, **kw)


def test_creation_triggers_apply_in_order_and_later_rules_win(customer_a, l1):
    l2e = team("l2-enterprise")
    _created("Enterprise to L2E", 1,
             [{"field": "org_tier", "op": "in", "value": [SupportTier.ENTERPRISE]}],
             [{"action": "set_team", "value": l2e.name},
              {"action": "add_tags", "value": "enterprise"}])
    _created("Outage is P1", 2, [{"field": "text", "op": "contains", "value": "outage, down"}],
             [{"action": "set_priority", "value": 1}])
    _created("Phone to L1", 3, [{"field": "channel", "op": "in", "value": [Channel.PHONE]}],
             [{"action": "set_team", "value": l1.name}])
    ticket = make_ticket(customer_a, subject="Full outage", description="Everything is down")
    assert (ticket.team, ticket.priority) == (l2e, Priority.P1)
    assert list(ticket.tags.values_list("name", flat=True)) == ["enterprise"]
    fired = list(ticket.events.filter(kind="rule").values_list("after", flat=True))
    assert fired == ["Enterprise to L2E", "Outage is P1"]
    phone = make_ticket(customer_a, subject="Call", description="outage", channel=Channel.PHONE)
    assert phone.team == l1


def test_rule_conditions_all_must_hold(customer_a, customer_b, l1):
    l3 = team("l3-specialty")
    _created("Acme billing", 1,
             [{"field": "requester_email", "op": "matches", "value": "@acme.example"},
              {"field": "category", "op": "in", "value": ["Billing"]}],
             [{"action": "set_team", "value": l3.name}])
    billing = Category.objects.get(slug="billing")
    assert make_ticket(customer_a, category=billing).team == l3
    assert make_ticket(customer_b, category=billing).team == l1  # other domain
    assert make_ticket(customer_a).team == l1  # no category


def test_stop_processing_skips_later_rules(customer_a):
    l3 = team("l3-specialty")
    _created("Stop", 1, [{"field": "text", "op": "contains", "value": "invoice"}],
             [{"action": "set_team", "value": l3.name}], stop_processing=True)
    _created("Later", 2, [], [{"action": "set_priority", "value": 1}])
    ticket = make_ticket(customer_a, subject="Invoice", description="invoice wrong")
    assert (ticket.team, ticket.priority) == (l3, Priority.P3)


def test_inactive_rules_are_ignored(customer_a, l1):
    _created("Off", 1, [], [{"action": "set_team", "value": "l3-specialty"}], is_active=False)
    assert make_ticket(customer_a).team == l1


# --- assignment strategies --------------------------------------------------------------

def test_round_robin_rotates_and_skips_away_agents(customer_a, l1):
    l1.assignment_strategy = AssignmentStrategy.ROUND_ROBIN
    l1.save()
    a = make_user(Role.AGENT, teams=(l1,))
    b = make_user(Role.AGENT, teams=(l1,))
    c = make_user(Role.AGENT, teams=(l1,), is_away=True)
    got = [make_ticket(customer_a).assignee for _ in range(4)]
    assert got == [a, b, a, b]
    assert c not in got
    assert make_ticket(customer_a).status == "assigned"


def test_least_loaded_picks_agent_with_fewest_open_tickets(customer_a, l1):
    l1.assignment_strategy = AssignmentStrategy.LEAST_LOADED
    l1.save()
    busy = make_user(Role.AGENT, teams=(l1,))
    idle = make_user(Role.AGENT, teams=(l1,))
    for _ in range(2):
        t = make_ticket(customer_a)
        services.assign(t, assignee=busy, actor=busy)
    assert make_ticket(customer_a).assignee == idle


def test_skill_based_prefers_skilled_agents(customer_a, l1):
    l1.assignment_strategy = AssignmentStrategy.SKILL_BASED
    l1.save()
    saml = Skill.objects.create(name="SAML")
    login = Category.objects.get(slug="login")
    login.skill = saml
    login.save()
    make_user(Role.AGENT, teams=(l1,))
    expert = make_user(Role.AGENT, teams=(l1,))
    expert.skills.add(saml)
    assert make_ticket(customer_a, category=login).assignee == expert
    # Without a skilled agent available, the least loaded agent gets it.
    expert.is_away = True
    expert.save()
    assert make_ticket(customer_a, category=login).assignee not in (None, expert)


def test_manual_team_leaves_tickets_in_the_queue(customer_a, l1):
    make_user(Role.AGENT, teams=(l1,))
    assert l1.assignment_strategy == AssignmentStrategy.ROUND_ROBIN  # seeded default
    l1.assignment_strategy = AssignmentStrategy.MANUAL
    l1.save()
    assert make_ticket(customer_a).assignee is None


# --- escalation -----------------------------------------------------------------------

def test_escalation_carries_the_handoff_packet_to_the_next_tier(ticket_a, agent, l2):
    services.assign(ticket_a, assignee=agent, actor=agent)
    services.transition(ticket_a, "in_progress", actor=agent)
    ticket = services.escalate(ticket_a, to_team=l2, packet=PACKET, actor=agent)
    assert (ticket.status, ticket.team, ticket.assignee) == ("escalated", l2, None)
    packet = Escalation.objects.get(ticket=ticket)
    assert packet.issue_summary == PACKET["issue_summary"]
    assert packet.next_steps == PACKET["next_steps"]
    assert (packet.from_team.slug, packet.to_team, packet.actor) == ("l1-general", l2, agent)
    assert ticket.events.filter(kind="escalated", after="L2 Technical").exists()


def test_incomplete_packet_is_refused_and_nothing_changes(ticket_a, agent, l2):
    partial = dict(PACKET, troubleshooting_done="  ")
    with pytest.raises(TransitionError, match="troubleshooting done"):
        services.escalate(ticket_a, to_team=l2, packet=partial, actor=agent)
    ticket_a.refresh_from_db()
    assert (ticket_a.status, ticket_a.team.slug) == ("new", "l1-general")
    assert not Escalation.objects.exists()


def test_escalation_to_the_same_team_is_refused(ticket_a, agent, l1):
    with pytest.raises(TransitionError):
        services.escalate(ticket_a, to_team=l1, packet=PACKET, actor=agent)


def test_escalation_is_auto_assigned_by_the_receiving_team(ticket_a, agent, l2_agent, l2):
    l2.assignment_strategy = AssignmentStrategy.ROUND_ROBIN
    l2.save()
    ticket = services.escalate(ticket_a, to_team=l2, packet=PACKET, actor=agent)
    assert (ticket.status, ticket.assignee) == ("assigned", l2_agent)


def test_engineering_escalation_keeps_the_team(ticket_a, agent):
    services.assign(ticket_a, assignee=agent, actor=agent)
    services.transition(ticket_a, "in_progress", actor=agent)
    ticket = services.escalate(ticket_a, to_team=None, packet=PACKET, actor=agent,
                               engineering=True)
    assert ticket.status == "engineering"
    assert ticket.team.slug == "l1-general"
    assert Escalation.objects.get(ticket=ticket).kind == "engineering"


# --- merge ----------------------------------------------------------------------------

def test_merge_carries_messages_and_requesters_and_closes_the_duplicate(
        customer_a, org_admin_a, agent):
    original = make_ticket(customer_a, subject="SSO broken")
    duplicate = make_ticket(org_admin_a, subject="Cannot sign in via Okta",
                            description="Okta says error 403")
    services.add_reply(duplicate, author=org_admin_a, body="Also for my team")
    services.add_reply(duplicate, author=agent, body="internal guess", public=False)
    services.merge(duplicate, into=original, actor=agent)
    duplicate.refresh_from_db()
    assert (duplicate.status, duplicate.merged_into) == ("closed", original)
    bodies = list(original.messages.values_list("body", "is_public", "merged_from"))
    assert bodies == [
        ("**Cannot sign in via Okta**\n\nOkta says error 403", True, duplicate.pk),
        ("Also for my team", True, duplicate.pk),
        ("internal guess", False, duplicate.pk),
    ]
    assert org_admin_a in original.ccs.all()
    assert original.events.filter(kind="merged", after=f"#{duplicate.pk}").exists()
    assert duplicate.events.filter(kind="merged", after=f"#{original.pk}").exists()
    # The duplicate's own conversation is kept for its history.
    assert duplicate.messages.count() == 2


def test_merge_refuses_self_closed_and_already_merged(customer_a, agent):
    a, b, c = (make_ticket(customer_a) for _ in range(3))
    with pytest.raises(ValidationError):
        services.merge(a, into=a, actor=agent)
    services.merge(a, into=b, actor=agent)
    with pytest.raises(ValidationError):
        services.merge(a, into=c, actor=agent)
    with pytest.raises(ValidationError):
        services.merge(c, into=a, actor=agent)  # a is closed now
    assert Message.objects.filter(ticket=c).count() == 0


def test_merge_closes_through_the_transition_table(customer_a, agent):
    original, duplicate, closed = (make_ticket(customer_a) for _ in range(3))
    services.transition(duplicate, "in_progress", actor=agent, assignee=agent)
    services.merge(duplicate, into=original, actor=agent)
    status = duplicate.events.filter(kind="status").latest("pk")
    assert (status.before, status.after) == ("in_progress", "closed")
    assert status.note == f"duplicate of {original.reference}"
    duplicate.refresh_from_db()
    assert duplicate.closed_at is not None and duplicate.status_changed_at == duplicate.closed_at
    services.transition(closed, "resolved", actor=agent)
    services.transition(closed, "closed", actor=agent)
    with pytest.raises(TransitionError):
        services.merge(closed, into=original, actor=agent)  # closed is where merging ends
    assert not original.messages.filter(merged_from=closed).exists()


def test_customers_cannot_merge(customer_a):
    a, b = make_ticket(customer_a), make_ticket(customer_a)
    with pytest.raises(PermissionDenied):
        services.merge(a, into=b, actor=customer_a)


# --- macros ---------------------------------------------------------------------------

def test_macro_fills_placeholders_and_sets_fields(ticket_a, agent):
    macro = Macro.objects.create(
        name="Ask for logs", set_status="waiting_on_customer", status_reason="logs requested",
        body="Hi {{ requester_first_name }}, please send logs for ticket {{ticket_id}}. "
             "{{ unknown }} — {{ agent_name }}",
        set_priority=Priority.P2,
    )
    macro.add_tags.add(Tag.objects.create(name="needs-logs"))
    services.assign(ticket_a, assignee=agent, actor=agent)
    ticket = services.apply_macro(ticket_a, macro, actor=agent)
    reply = ticket.messages.get()
    assert reply.body == (f"Hi Alice, please send logs for ticket {ticket.pk}. "
                          "{{ unknown }} — Agnes")
    assert reply.is_public
    assert (ticket.status, ticket.priority, ticket.waiting_reason) == (
        "waiting_on_customer", 2, "logs requested")
    assert "needs-logs" in ticket.tags.values_list("name", flat=True)
    assert ticket.events.filter(kind="macro", after="Ask for logs").exists()


def test_macro_with_illegal_status_changes_nothing(ticket_a, agent):
    macro = Macro.objects.create(name="Bad", body="hello", set_status="engineering")
    with pytest.raises(TransitionError):
        services.apply_macro(ticket_a, macro, actor=agent)
    assert ticket_a.messages.count() == 0
    assert not ticket_a.events.filter(kind="macro").exists()


# --- bulk and scheduled ---------------------------------------------------------------

def test_bulk_update_reports_refused_tickets_individually(customer_a, agent):
    a, b = make_ticket(customer_a), make_ticket(customer_a)
    services.transition(b, "resolved", actor=agent)
    services.transition(b, "closed", actor=agent)
    result = services.bulk_update([a, b], actor=agent, status="in_progress")
    assert result.changed == [a.pk]
    assert b.pk in result.refused


def test_resolved_tickets_close_automatically_after_the_grace_period(ticket_a, agent):
    services.transition(ticket_a, "resolved", actor=agent)
    assert services.close_stale_resolved(days=4) == 0
    with time_machine.travel(timezone.now() + timedelta(days=4, minutes=1)):
        assert services.close_stale_resolved(days=4) == 1
        assert services.close_stale_resolved(days=4) == 0
    ticket_a.refresh_from_db()
    assert ticket_a.status == "closed"
    event = TicketEvent.objects.filter(ticket=ticket_a, kind="status").latest("id")
    assert (event.actor, event.after) == (None, "closed")


def test_org_admin_may_resolve_org_tickets(ticket_a, org_admin_a):
    services.transition(ticket_a, Status.RESOLVED, actor=org_admin_a)
    ticket_a.refresh_from_db()
    assert ticket_a.status == "resolved"


def test_other_org_tier_from_factory(db):
    assert make_org(tier=SupportTier.FREE).support_tier == "free"

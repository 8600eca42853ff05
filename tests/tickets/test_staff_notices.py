"""Staff notices: who hears of a ticket's change (bell and e-mail), and who does not."""
from __future__ import annotations

import datetime as dt
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from helpdesk.models import AssignmentStrategy, Notification, NotificationPreference
from helpdesk.roles import Role
from tests.factories import PACKET, make_ticket, make_user
from tickets import events, services, staff_notices
from tickets.models import Message, Priority, TicketFollower

pytestmark = pytest.mark.django_db

TASK = "helpdesk.tasks.send_notification_email"



@pytest.fixture
def manual_l1(l1):
    """L1 assigns by hand, so tickets stay unassigned until someone takes them."""
    l1.assignment_strategy = AssignmentStrategy.MANUAL
    l1.save()
    return l1


@pytest.fixture
def colleague(l1):
    return make_user(Role.AGENT, teams=(l1,), username="carl")


def notices(user, source: str | None = None):
    qs = Notification.objects.filter(recipient=user)
    if source:
        qs = qs.filter(source=source)
    found = list(qs.order_by("id"))
    for note in found:  # every placeholder of the shipped wording was filled
        assert "{{" not in note.title + note.body, note.body
    return found


def follow(ticket, user):
    return TicketFollower.objects.create(ticket=ticket, user=user, created_at=timezone.now())


# --- assigned / taken away ------------------------------------------------------------

def test_the_auto_assigner_tells_the_agent_it_chose(agent, customer_a, run):
    ticket = run(make_ticket, customer_a)  # L1 is round robin: agnes is its only member
    assert ticket.assignee == agent
    [note] = notices(agent)
    assert note.source == "staff.assigned"
    assert note.title == f"[#{ticket.pk}] Assigned to you: Cannot log in"
    assert "The auto-assigner assigned" in note.body
    assert note.url == f"/agent/tickets/{ticket.pk}/"
    staff_mail = [m for m in mail.outbox if m.to != [customer_a.email]]  # not her ack
    assert [m.to for m in staff_mail] == [[agent.email]]
    assert f"/agent/tickets/{ticket.pk}/" in staff_mail[0].body


def test_a_routing_rule_and_the_teams_strategy_tell_the_chosen_agent(l2_agent, l2,
                                                                      customer_a, run):
    from tickets.models import Trigger

    Trigger.objects.create(name="SSO to L2", events=["created"],
                           conditions=[{"field": "text", "op": "contains", "value": "sso"}],
                           actions=[{"action": "set_team", "value": l2.name}])
    ticket = run(make_ticket, customer_a, subject="SSO broken")
    assert ticket.team == l2 and ticket.assignee == l2_agent  # L2: least loaded
    [note] = notices(l2_agent)
    assert note.source == "staff.assigned" and "The auto-assigner" in note.body
    assert "Team: L2 Technical" in note.body


def test_reassigning_tells_the_new_and_the_previous_assignee_not_the_lead(
        agent, colleague, lead, customer_a, manual_l1, run):
    ticket = make_ticket(customer_a)
    run(services.assign, ticket, assignee=agent, actor=lead)
    run(services.assign, ticket, assignee=colleague, actor=lead)
    assert [n.source for n in notices(agent)] == ["staff.assigned", "staff.unassigned"]
    taken = notices(agent)[1]
    assert "Lena took" in taken.body and "Carl" in taken.body
    assert [n.source for n in notices(colleague)] == ["staff.assigned"]
    assert notices(lead) == []


def test_nobody_is_told_of_their_own_change(agent, customer_a, manual_l1, run):
    ticket = make_ticket(customer_a)
    run(services.assign, ticket, assignee=agent, actor=agent)
    run(services.add_reply, ticket, author=agent, body="On it", public=True)
    follow(ticket, agent)
    run(services.add_reply, ticket, author=agent, body="@agnes note to self", public=False)
    assert notices(agent) == []


# --- a customer answered --------------------------------------------------------------

def test_customer_answer_reaches_the_assignee(agent, customer_a, run):
    ticket = make_ticket(customer_a)
    Notification.objects.all().delete()
    run(services.add_reply, ticket, author=customer_a, body="Still broken after the reset.")
    [note] = notices(agent)
    assert note.source == "staff.customer_replied"
    assert "Still broken after the reset." in note.body
    assert "you own it" in note.body
    assert not note.urgent


def test_customer_answer_on_a_p1_is_urgent_and_skips_quiet_hours(agent, customer_a, run):
    ticket = make_ticket(customer_a)
    ticket.priority = Priority.P1
    ticket.save()
    agent.time_zone = "Europe/Berlin"
    agent.save()
    NotificationPreference.objects.create(user=agent, quiet_start=dt.time(22),
                                          quiet_end=dt.time(7), digest_minutes=60)
    night = dt.datetime(2026, 1, 11, 2, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    with time_machine.travel(night, tick=False), \
            mock.patch(f"{TASK}.apply_async") as later, mock.patch(f"{TASK}.delay") as now:
        run(services.add_reply, ticket, author=customer_a, body="Everything is down!")
    [note] = notices(agent, "staff.customer_replied")
    assert note.urgent and not note.in_digest
    now.assert_called_once_with(note.pk)
    later.assert_not_called()


def test_unassigned_ticket_answer_reaches_only_opted_in_team_members(
        agent, colleague, l2_agent, customer_a, manual_l1, run):
    NotificationPreference.objects.create(user=colleague, unassigned_replies=True)
    NotificationPreference.objects.create(user=l2_agent, unassigned_replies=True)
    ticket = make_ticket(customer_a)
    run(services.add_reply, ticket, author=customer_a, body="Any news?")
    assert notices(agent) == []
    assert notices(l2_agent) == []  # not in the ticket's team
    [note] = notices(colleague)
    assert note.source == "staff.customer_replied"
    assert "unassigned, team L1 General" in note.body


# --- mentions -------------------------------------------------------------------------

def test_mention_tells_staff_who_can_see_the_ticket_only(
        agent, colleague, l2_agent, manager, customer_a, customer_b, run):
    ticket = make_ticket(customer_a)
    Notification.objects.all().delete()
    run(services.add_reply, ticket, author=agent, public=False,
        body="@CARL can you look? Also @leo, @max. and @bob; mail bob@example.com")
    [note] = notices(colleague)
    assert note.source == "staff.mentioned"
    assert "Agnes mentioned you" in note.title
    assert "can you look?" in note.body
    assert note.url == f"/agent/tickets/{ticket.pk}/"
    assert [n.source for n in notices(manager)] == ["staff.mentioned"]  # sees all tickets
    assert notices(l2_agent) == []  # another team's agent cannot see the ticket
    assert notices(customer_b) == []  # a customer is never told of a note


def test_mentions_in_public_replies_notify_nobody(agent, colleague, customer_a, run):
    ticket = make_ticket(customer_a)
    Notification.objects.all().delete()
    run(services.add_reply, ticket, author=agent, body="Hi, @carl will call you.")
    assert notices(colleague) == []


def test_mentioned_usernames_parsing():
    assert staff_notices.mentioned_usernames(
        "@Ann, @bob.smith. x@y.z (@c-d) @ann") == ["ann", "bob.smith", "c-d"]


# --- following ------------------------------------------------------------------------

def test_followers_hear_replies_notes_and_status_changes(agent, colleague, customer_a, run):
    ticket = make_ticket(customer_a)
    follow(ticket, colleague)
    run(services.add_reply, ticket, author=customer_a, body="More logs attached.")
    run(services.add_reply, ticket, author=agent, body="Checking the logs.", public=False)
    run(services.transition, ticket, "in_progress", actor=agent)
    titles = [n.title for n in notices(colleague, "staff.followed_update")]
    assert titles == [
        f"[#{ticket.pk}] Customer reply: Cannot log in",
        f"[#{ticket.pk}] Internal note: Cannot log in",
        f"[#{ticket.pk}] Status Assigned → In progress: Cannot log in",
    ]


def test_a_follower_mentioned_in_a_note_gets_one_notice(agent, colleague, customer_a, run):
    ticket = make_ticket(customer_a)
    follow(ticket, colleague)
    run(services.add_reply, ticket, author=agent, body="@carl see this", public=False)
    assert [n.source for n in notices(colleague)] == ["staff.mentioned"]


def test_followers_who_lost_sight_of_the_ticket_hear_nothing(
        agent, l2_agent, customer_a, l2, run):
    ticket = make_ticket(customer_a)
    follow(ticket, l2_agent)  # e.g. followed while it was escalated to L2, then moved back
    run(services.add_reply, ticket, author=customer_a, body="Hello?")
    assert notices(l2_agent) == []


def test_muted_follow_notices_are_filed_read_without_email(agent, colleague, customer_a, run):
    NotificationPreference.objects.create(user=colleague,
                                          muted_sources=["staff.followed_update"])
    ticket = make_ticket(customer_a)
    follow(ticket, colleague)
    mail.outbox.clear()
    run(services.add_reply, ticket, author=customer_a, body="Hello?")
    [note] = notices(colleague)
    assert note.read_at is not None and not note.email_wanted
    assert [m.to for m in mail.outbox] == [[agent.email]]  # only the assignee's


def test_email_switched_off_keeps_the_bell(agent, customer_a, run):
    NotificationPreference.objects.create(user=agent, email_enabled=False)
    run(make_ticket, customer_a)
    [note] = notices(agent)
    assert note.read_at is None and not note.email_wanted
    assert [m.to for m in mail.outbox] == [[customer_a.email]]  # her acknowledgement only


# --- escalation -----------------------------------------------------------------------

def test_escalation_target_team_hears_with_the_handoff_packet(agent, l2_agent, l2,
                                                              customer_a, run):
    other_l2 = make_user(Role.AGENT, teams=(l2,), username="lou")
    ticket = make_ticket(customer_a)
    run(services.escalate, ticket, to_team=l2, packet=PACKET, actor=agent)
    for person in (l2_agent, other_l2):
        [note] = notices(person, "staff.escalated")
        assert "Escalated to L2 Technical" in note.title
        assert PACKET["issue_summary"] in note.body
        assert PACKET["next_steps"] in note.body
    assert notices(agent, "staff.escalated") == []  # the escalating agent


# --- exactly once ---------------------------------------------------------------------

def test_a_handler_that_runs_twice_sends_nothing_twice(agent, colleague, customer_a, run):
    ticket = make_ticket(customer_a)
    follow(ticket, agent)
    message = run(services.add_reply, ticket, author=colleague, body="@agnes look",
                  public=False)
    event = events.NoteAdded(ticket.pk, colleague.pk, timezone.now(), message.pk)
    sent = len(mail.outbox)
    run(staff_notices.on_note_added, event)
    run(staff_notices.on_note_added, event)
    assert [n.source for n in notices(agent, "staff.mentioned")] == ["staff.mentioned"]
    assert len(mail.outbox) == sent
    assert Message.objects.filter(ticket=ticket, is_public=False).count() == 1


# --- wording --------------------------------------------------------------------------

def test_a_teams_own_wording_and_html_reach_the_email(agent, l2_agent, l2, customer_a, run):
    from helpdesk.models import NoticeTemplate

    NoticeTemplate.objects.create(
        key="staff.escalated", team=l2, subject="L2 pick-up: {{ ticket_ref }}",
        body_text="From {{ actor_name }}: {{ reason }}",
        body_html="<p>From <b>{{ actor_name }}</b>: {{ reason }}</p>")
    ticket = make_ticket(customer_a)
    packet = {**PACKET, "reason": "Needs <script>alert(1)</script> logs"}
    mail.outbox.clear()
    run(services.escalate, ticket, to_team=l2, packet=packet, actor=agent)
    [note] = notices(l2_agent, "staff.escalated")
    assert note.title == f"L2 pick-up: #{ticket.pk}"
    [sent] = [m for m in mail.outbox if m.to == [l2_agent.email]
              and m.subject.startswith("L2 pick-up")]
    assert "From Agnes: Needs <script>alert(1)</script> logs" in sent.body  # plain text
    html = sent.alternatives[0][0]
    assert "<p>From <b>Agnes</b>: Needs &lt;script&gt;alert(1)&lt;/script&gt; logs</p>" in html
    assert f"/agent/tickets/{ticket.pk}/" in html


def test_the_shipped_escalation_email_has_the_packet_in_html(agent, l2_agent, l2,
                                                             customer_a, run):
    ticket = make_ticket(customer_a)
    mail.outbox.clear()
    run(services.escalate, ticket, to_team=l2, packet=PACKET, actor=agent)
    [sent] = [m for m in mail.outbox if "Escalated to" in m.subject]
    html = sent.alternatives[0][0]
    assert "<dt>Suggested next steps</dt>" in html and "{{" not in html

"""Bounces and automatic replies: a note on the right ticket, the bounce mark on the
address, automatic mail held until an agent clears it, and never an answer."""
from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from helpdesk.notifications import notify
from helpdesk.roles import Role
from mailgate import bounces, services
from mailgate.models import (
    BounceMark,
    HeldEmail,
    InboundMessage,
    InboundStatus,
    OutboundEmail,
    Quarantine,
)
from tests.factories import make_ticket, make_user
from tickets import services as ticket_services
from tickets import surveys
from tickets.models import Ticket, TicketEvent
from tickets.state_machine import Status

from .conftest import corpus, delivery_report

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(thread, agent, django_capture_on_commit_callbacks):
    """The agent answered Alice's mail ticket: the reply as it left us."""
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        ticket_services.add_reply(thread, author=agent, body="Please try the reset link.")
    [reply] = mail.outbox
    mail.outbox.clear()
    return reply.message().as_bytes()


def bounce(raw: bytes, mailbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return services.ingest(raw, mailbox)


def test_bounce_of_a_reply_is_an_internal_note_and_marks_the_address(
        sent, thread, mailbox, customer_a, agent, client, django_capture_on_commit_callbacks):
    tickets, events = Ticket.objects.count(), TicketEvent.objects.count()
    status = Ticket.objects.get(pk=thread.pk).status
    result = bounce(delivery_report(sent, "alice@acme.example"), mailbox,
                    django_capture_on_commit_callbacks)

    assert result.status == InboundStatus.BOUNCE and result.ticket == thread
    note = result.inbound.ticket_message
    assert not note.is_public and note.author is None
    assert note.body.startswith(
        "**Delivery to alice@acme.example failed: 5.1.1 user unknown**\n"
        "The receiving server said: 550 5.1.1 User unknown\n"
        "The address is marked as bouncing")
    [report] = note.attachments.all()
    assert report.filename == "delivery-report.eml"
    # Never a ticket, never quarantine, never an answer, no status change.
    assert Ticket.objects.count() == tickets and not Quarantine.objects.exists()
    assert mail.outbox == []
    assert Ticket.objects.get(pk=thread.pk).status == status
    assert TicketEvent.objects.count() == events + 1  # the note, nothing else

    mark = BounceMark.objects.get()
    assert (mark.address, mark.status, mark.user, mark.ticket) == (
        "alice@acme.example", "5.1.1", customer_a, thread)
    assert mark.outbound == OutboundEmail.objects.exclude(key="reply:seed").get(kind="reply")
    assert bounces.is_held("Alice Smith <ALICE@acme.example>")
    assert bounces.held_addresses(["alice@acme.example", "bob@acme.example"]) == {
        "alice@acme.example"}

    client.force_login(agent)
    page = client.get(reverse("agent:ticket", args=[thread.pk])).content.decode()
    assert "alice@acme.example bounces:</strong> 5.1.1 user unknown" in page
    assert "Delivery to alice@acme.example failed" in page
    client.force_login(customer_a)
    portal = client.get(reverse("portal:ticket", args=[thread.pk])).content.decode()
    assert "Delivery to" not in portal and "delivery-report.eml" not in portal


def test_automatic_mail_is_held_while_agent_replies_still_go_out(
        sent, thread, mailbox, agent, settings, django_capture_on_commit_callbacks):
    bounce(delivery_report(sent, "alice@acme.example"), mailbox,
           django_capture_on_commit_callbacks)
    settings.HELPDESK_SURVEY_DELAY = timedelta(minutes=1)
    with django_capture_on_commit_callbacks(execute=True):
        ticket_services.add_reply(thread, author=agent, body="One more idea: clear cookies.")
        ticket_services.transition(thread, Status.RESOLVED, actor=agent)
    assert [m.to for m in mail.outbox] == [["alice@acme.example"]]  # the agent's reply
    # The "resolved" notice is automatic: held, like the survey below.
    assert HeldEmail.objects.get().kind == "notice"
    mail.outbox.clear()
    with time_machine.travel(timezone.now() + timedelta(minutes=5), tick=False):
        surveys.send_due_surveys()
    assert mail.outbox == []  # the survey is automatic: held
    held = HeldEmail.objects.get(kind="survey")
    assert (held.address, held.kind, held.ticket) == ("alice@acme.example", "survey", thread)
    assert not OutboundEmail.objects.filter(kind="survey").exists()  # nothing went out


def test_agent_clears_the_mark_from_the_ticket_and_mail_flows_again(
        sent, thread, mailbox, agent, client, customer_a, django_capture_on_commit_callbacks):
    bounce(delivery_report(sent, "alice@acme.example"), mailbox,
           django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        notify(customer_a, title="Your ticket was updated", source="test")
    assert mail.outbox == [] and HeldEmail.objects.count() == 1
    mark = BounceMark.objects.get()

    client.force_login(agent)
    page = client.get(reverse("agent:ticket", args=[thread.pk])).content.decode()
    assert "1 e-mail so far" in page
    url = reverse("mailgate:clear_bounce", args=[mark.pk])
    assert f'action="{url}"' in page
    response = client.post(url, {"ticket": thread.pk})
    assert response.status_code == 302 and response.url == thread.get_absolute_url()

    mark.refresh_from_db()
    assert mark.cleared_by == agent and mark.cleared_at is not None
    assert not bounces.is_held("alice@acme.example")
    note = thread.messages.filter(is_public=False, author=agent).get()
    assert note.body == ("Cleared the bounce mark on alice@acme.example (5.1.1): automatic "
                         "e-mail to it is sent again; 1 e-mail had been held.")
    page = client.get(reverse("agent:ticket", args=[thread.pk])).content.decode()
    assert "bounces:</strong>" not in page
    with django_capture_on_commit_callbacks(execute=True):
        notify(customer_a, title="Your ticket was updated again", source="test")
    assert [m.to for m in mail.outbox] == [["alice@acme.example"]]

    # A new failure sets the mark again, counting afresh.
    bounce(delivery_report(sent, "alice@acme.example", status="5.2.1",
                           diagnostic="550 5.2.1 Mailbox disabled", mta="mx2.acme.example"),
           mailbox, django_capture_on_commit_callbacks)
    mark.refresh_from_db()
    assert (mark.status, mark.failures, mark.cleared_at) == ("5.2.1", 1, None)


def test_only_agents_who_see_the_ticket_clear_a_mark_of_its_people(
        sent, thread, mailbox, customer_a, l2, django_capture_on_commit_callbacks, client):
    bounce(delivery_report(sent, "alice@acme.example"), mailbox,
           django_capture_on_commit_callbacks)
    mark = BounceMark.objects.get()
    url = reverse("mailgate:clear_bounce", args=[mark.pk])
    outsider = make_user(Role.AGENT, teams=(l2,), username="otto")
    other_ticket = make_ticket(make_user(Role.CUSTOMER, username="zed"))
    insider = make_user(Role.ADMIN, username="root2")
    for user, ticket in ((customer_a, thread), (outsider, thread), (insider, other_ticket)):
        client.force_login(user)
        assert client.post(url, {"ticket": ticket.pk}).status_code == 404
    client.force_login(insider)
    assert client.post(url, {}).status_code == 404
    assert bounces.is_held("alice@acme.example")


def test_delayed_and_unknown_recipients_are_noted_without_a_mark(
        sent, thread, mailbox, django_capture_on_commit_callbacks):
    delayed = bounce(delivery_report(sent, "alice@acme.example", status="4.4.1",
                                     action="delayed", diagnostic="connect: timed out"),
                     mailbox, django_capture_on_commit_callbacks)
    assert delayed.inbound.ticket_message.body.startswith(
        "**Delivery to alice@acme.example delayed: 4.4.1 no answer from host**")
    # A report naming an address our mail did not go to (forged, or an alias): noted only.
    stranger = bounce(delivery_report(sent, "someone.else@acme.example", mta="mx3.example"),
                      mailbox, django_capture_on_commit_callbacks)
    assert "Not marked: the e-mail it answers was not sent to this address." in \
        stranger.inbound.ticket_message.body
    assert not BounceMark.objects.exists()


def test_bounce_of_a_notification_marks_its_recipient_without_a_ticket(
        agent, mailbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notify(agent, title="SLA warning on #7", body="80 % used.", source="sla.level")
    [sent] = mail.outbox
    mail.outbox.clear()
    result = bounce(delivery_report(sent.message().as_bytes(), agent.email), mailbox,
                    django_capture_on_commit_callbacks)
    assert result.status == InboundStatus.BOUNCE and result.ticket is None
    assert bounces.is_held(agent.email)
    with django_capture_on_commit_callbacks(execute=True):
        notify(agent, title="SLA breach on #7", body="100 % used.", source="sla.level")
    assert mail.outbox == []


def test_out_of_office_is_a_note_that_holds_nothing_and_answers_nothing(
        thread, mailbox, agent, django_capture_on_commit_callbacks):
    ticket_services.transition(thread, Status.ASSIGNED, actor=agent, assignee=agent)
    ticket_services.transition(thread, Status.IN_PROGRESS, actor=agent)
    ticket_services.transition(thread, Status.WAITING_ON_CUSTOMER, actor=agent,
                               reason="asked for a screenshot")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        result = services.ingest(corpus("10_out_of_office.eml", thread.pk), mailbox)
    assert result.status == InboundStatus.AUTO_REPLY and result.ticket == thread
    note = result.inbound.ticket_message
    assert not note.is_public
    assert note.body.startswith("**Automatic reply from alice@acme.example**: "
                                f"Automatic reply: Re: Cannot log in [HD-{thread.pk}]")
    assert "For urgent matters please contact bob@acme.example." in note.body
    assert not BounceMark.objects.exists()
    assert mail.outbox == []  # no acknowledgement, no notification, nothing
    assert Ticket.objects.get(pk=thread.pk).status == Status.WAITING_ON_CUSTOMER


def test_auto_reply_naming_a_ticket_by_token_needs_a_sender_of_that_ticket(
        thread, mailbox, customer_b):
    raw = (corpus("10_out_of_office.eml", thread.pk)
           .replace(b"In-Reply-To: <hd-reply-1.4711@helpdesk.test>\n", b"")
           .replace(b"References: <hd-reply-1.4711@helpdesk.test>\n", b""))
    assert services.ingest(raw, mailbox).ticket == thread  # Alice's own ticket
    forged = raw.replace(b"Alice Smith <alice@acme.example>", b"Bob <bob@globex.example>") \
        .replace(b"ooo-10.", b"ooo-10-forged.")
    result = services.ingest(forged, mailbox)
    assert result.status == InboundStatus.IGNORED_LOOP and result.ticket is None


def test_reused_message_id_with_other_content_is_a_new_message(mailbox):
    first = services.ingest(corpus("01_new_plain.eml"), mailbox)
    other = services.ingest(corpus("43_reused_message_id.eml"), mailbox)
    assert not other.duplicate and other.ticket != first.ticket
    assert other.ticket.subject == "Second problem: PDF export is empty"
    assert InboundMessage.objects.filter(
        message_id="CAB8x3kQ1+new-plain@mail.acme.example").count() == 2
    # The same bytes again, or via another relay, are still one message each.
    assert services.ingest(corpus("15_duplicate_of_01.eml"), mailbox).inbound == first.inbound
    assert services.ingest(corpus("43_reused_message_id.eml"), mailbox).duplicate
    assert Ticket.objects.count() == 2


def test_rows_from_before_content_hashes_still_dedupe_by_message_id(mailbox):
    first = services.ingest(corpus("01_new_plain.eml"), mailbox)
    InboundMessage.objects.filter(pk=first.inbound.pk).update(content_hash="")
    assert services.ingest(corpus("15_duplicate_of_01.eml"), mailbox).duplicate
    assert Ticket.objects.count() == 1

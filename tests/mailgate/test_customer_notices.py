"""Issue 18, the customer half: requesters and CCs hear of every change that concerns
them, by e-mail, whatever channel the ticket came through, once per event and person."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from helpdesk.models import NoticeTemplate
from helpdesk.roles import Role
from mailgate import notices, services, tasks, waiting
from mailgate.models import (
    CustomerMailPreference,
    Mailbox,
    OutboundEmail,
    OutboundStatus,
    TeamSender,
    WaitingTicket,
)
from tests.factories import make_ticket, make_user
from tickets import services as ticket_services
from tickets.models import Channel, Ticket
from tickets.state_machine import Status

pytestmark = pytest.mark.django_db

MONDAY_10 = dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def mailbox(db):
    return Mailbox.objects.create(name="support", address="support@helpdesk.test", imap_host="")


@pytest.fixture
def carol(org_a):
    """Alice's colleague, in CC of her tickets."""
    return make_user(Role.CUSTOMER, org=org_a, username="carol")



def by_subject(start: str) -> list:
    return [m for m in mail.outbox if m.subject.startswith(start)]


def html_of(message) -> str:
    return message.alternatives[0][0]


# --- acknowledgement -------------------------------------------------------------------

@pytest.mark.parametrize("channel", [Channel.WEB, Channel.EMAIL, Channel.PHONE, Channel.CHAT])
def test_every_channel_gets_an_acknowledgement_with_reference_link_and_due_time(
        channel, customer_a, agent, mailbox, run):
    customer_a.time_zone = "Europe/Berlin"
    customer_a.save()
    with time_machine.travel(MONDAY_10, tick=False):
        ticket = run(make_ticket, customer_a, channel=channel, subject="Export fails",
                         actor=agent if channel in (Channel.PHONE, Channel.CHAT) else None)
    [ack] = by_subject("We received your request")
    assert ack.to == ["alice@acme.example"]
    assert ack.subject == f"We received your request: Export fails [HD-{ticket.pk}]"
    assert f"#{ticket.pk}" in ack.body
    assert f"/portal/tickets/{ticket.pk}/" in ack.body
    assert ack.extra_headers["Auto-Submitted"] == "auto-generated"
    assert ack.reply_to == ["support@helpdesk.test"]
    due = ticket.sla_clocks.get(metric="first_response").due_at
    local = due.astimezone(ZoneInfo("Europe/Berlin"))
    assert f"We aim to answer by {local:%A %d %B %Y, %H:%M} (Europe/Berlin)" in ack.body


def test_a_duplicate_event_writes_and_sends_nothing_more(customer_a, mailbox, run):
    ticket = run(make_ticket, customer_a)
    row = OutboundEmail.objects.get(notice="customer.created")
    again = notices.queue_ticket_notice("customer.created", ticket.pk, at=ticket.created_at,
                                        actor_id=None, tell_actor=True)
    assert again == [] and OutboundEmail.objects.filter(notice="customer.created").count() == 1
    assert tasks.send_outbound_email.delay(row.pk).get() == "skipped"  # sent already
    assert len(mail.outbox) == 1


# --- agent replies ---------------------------------------------------------------------

def test_agent_reply_on_a_portal_ticket_reaches_requester_and_cc_with_markdown_files_and_quote(
        customer_a, carol, agent, mailbox, run):
    ticket = make_ticket(customer_a, channel=Channel.WEB, description="Export fails at 50 %.")
    ticket.ccs.add(carol)
    run(ticket_services.add_reply, ticket, author=customer_a, body="Still broken today.")
    run(ticket_services.add_reply, ticket, author=agent, public=False,
            body="SECRET-NOTE: customer is on the old cluster")
    mail.outbox.clear()
    run(ticket_services.add_reply, ticket, author=agent,
            body="Please try **again** now.",
            attachments=[SimpleUploadedFile("steps.txt", b"1. open", "text/plain")])
    [sent] = mail.outbox
    assert sorted(sent.to) == ["alice@acme.example", "carol@acme.example"]
    assert sent.subject == f"Re: Cannot log in [HD-{ticket.pk}]"
    assert sent.from_email == "Agnes via support <support@helpdesk.test>"
    assert "Auto-Submitted" not in sent.extra_headers  # a person wrote it
    html = html_of(sent)
    assert "<strong>again</strong>" in html
    assert "steps.txt" in sent.body and "/portal/attachments/" in sent.body
    assert "> Still broken today." in sent.body and "<blockquote" in html
    assert "SECRET-NOTE" not in sent.body + html


def test_nobody_is_told_of_their_own_change(customer_a, carol, agent, mailbox, run):
    ticket = make_ticket(customer_a)
    ticket.ccs.add(carol)
    mail.outbox.clear()
    run(ticket_services.transition, ticket, Status.RESOLVED, actor=customer_a)
    [resolved] = by_subject("Resolved:")
    assert resolved.to == ["carol@acme.example"]  # Alice resolved it herself
    assert "reopen" in resolved.body


# --- waiting, reminders, automatic resolution ------------------------------------------

def waiting_ticket(customer, agent, run) -> Ticket:
    ticket = make_ticket(customer, channel=Channel.PHONE, actor=agent)
    ticket_services.assign(ticket, assignee=agent, actor=agent)
    run(ticket_services.transition, ticket, Status.IN_PROGRESS, actor=agent)
    mail.outbox.clear()
    run(ticket_services.transition, ticket, Status.WAITING_ON_CUSTOMER, actor=agent,
            reason="Please send the export log.")
    return ticket


def test_waiting_reminders_after_2_and_4_business_days_then_automatic_resolution(
        customer_a, agent, mailbox, run, settings):
    settings.HELPDESK_CUSTOMER_REMINDER_DAYS = [2, 4]
    settings.HELPDESK_CUSTOMER_AUTO_RESOLVE_DAYS = 7
    friday = dt.datetime(2026, 12, 4, 15, 0, tzinfo=dt.UTC)
    with time_machine.travel(friday, tick=False):
        ticket = waiting_ticket(customer_a, agent, run)
    [asked] = by_subject("We need your answer")
    assert "Please send the export log." in asked.body
    mail.outbox.clear()

    def scan_at(day: dt.datetime) -> dict:
        with time_machine.travel(day, tick=False):
            return run(waiting.scan)

    assert scan_at(friday + dt.timedelta(days=3)) == {}  # Monday: 1 business day
    assert scan_at(friday + dt.timedelta(days=4, hours=1)) == {"reminder": 1}  # Tuesday
    assert scan_at(friday + dt.timedelta(days=4, hours=2)) == {}  # a rerun sends nothing
    [first] = mail.outbox
    assert "(reminder 1)" in first.body and "Please send the export log." in first.body
    assert first.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert first.extra_headers["List-Unsubscribe"].startswith("<http")
    assert scan_at(friday + dt.timedelta(days=6, hours=1)) == {"reminder": 1}  # Thursday
    assert scan_at(friday + dt.timedelta(days=11, hours=1)) == {"resolved": 1}  # 7 days
    assert scan_at(friday + dt.timedelta(days=12)) == {}
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED
    subjects = [m.subject.split(":")[0] for m in mail.outbox]
    assert subjects == ["Reminder", "Reminder", "Resolved for lack of an answer"]
    assert not WaitingTicket.objects.exists()


def test_customer_answer_by_e_mail_moves_the_ticket_back_and_stops_reminders(
        customer_a, agent, mailbox, run):
    with time_machine.travel(MONDAY_10, tick=False):
        ticket = waiting_ticket(customer_a, agent, run)
    [asked] = mail.outbox
    row = OutboundEmail.objects.get(notice="customer.waiting")
    raw = (f"From: Alice <alice@acme.example>\r\nTo: support@helpdesk.test\r\n"
           f"Subject: Re: {asked.subject}\r\nMessage-ID: <answer.1@acme.example>\r\n"
           f"In-Reply-To: <{row.message_id}>\r\nDate: Mon, 30 Nov 2026 12:00:00 +0000\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n\r\nHere is the log: all green.\r\n\r\n"
           "On Mon, Support wrote:\r\n> Your request is waiting for your answer.\r\n").encode()
    with time_machine.travel(MONDAY_10 + dt.timedelta(hours=2), tick=False):
        result = run(services.ingest, raw, mailbox)
    assert result.ticket == ticket and result.status == "reply_added"
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS
    assert ticket.messages.filter(by_agent=False).latest("pk").body == \
        "Here is the log: all green."  # quoted history stripped
    assert not WaitingTicket.objects.exists()
    with time_machine.travel(MONDAY_10 + dt.timedelta(days=10), tick=False):
        assert run(waiting.scan) == {}


def test_an_automatic_reply_to_a_notice_triggers_no_notice(customer_a, mailbox, run):
    ticket = run(make_ticket, customer_a)
    row = OutboundEmail.objects.get(notice="customer.created")
    mail.outbox.clear()
    raw = (f"From: alice@acme.example\r\nTo: support@helpdesk.test\r\n"
           f"Subject: Automatic reply: We received your request [HD-{ticket.pk}]\r\n"
           f"Auto-Submitted: auto-replied\r\nMessage-ID: <ooo.1@acme.example>\r\n"
           f"In-Reply-To: <{row.message_id}>\r\n\r\nI am out of office.\r\n").encode()
    run(services.ingest, raw, mailbox)
    assert mail.outbox == [] and Ticket.objects.count() == 1


# --- resolved, closed, merged ---------------------------------------------------------

def test_closed_and_merged_notices(customer_a, customer_b, agent, mailbox, run):
    kept = make_ticket(customer_a, subject="Export fails")
    dup = make_ticket(customer_b, subject="Export broken")
    mail.outbox.clear()
    run(ticket_services.merge, dup, into=kept, actor=agent)
    [merged] = mail.outbox
    assert merged.to == ["bob@globex.example"]
    assert merged.subject.startswith(f"#{dup.pk} continues in #{kept.pk}")
    assert f"/portal/tickets/{kept.pk}/" in merged.body
    mail.outbox.clear()
    run(ticket_services.transition, kept, Status.RESOLVED, actor=agent)
    run(ticket_services.close_stale_resolved, days=0)
    assert [m.subject.split(":")[0] for m in mail.outbox
            if m.to == ["alice@acme.example"]] == ["Resolved", "Closed"]


# --- preferences, unsubscribe, cap, team wording --------------------------------------

def test_email_turned_off_stops_everything_reminders_off_stops_only_reminders(
        customer_a, agent, mailbox, run):
    pref = CustomerMailPreference.objects.create(user=customer_a, reminders=False)
    with time_machine.travel(MONDAY_10, tick=False):
        ticket = waiting_ticket(customer_a, agent, run)
        assert len(by_subject("We need your answer")) == 1
    with time_machine.travel(MONDAY_10 + dt.timedelta(days=3), tick=False):
        run(waiting.scan)
    assert by_subject("Reminder") == []
    pref.all_email = False
    pref.save()
    mail.outbox.clear()
    run(ticket_services.add_reply, ticket, author=agent, body="Any news?")
    assert mail.outbox == []


def test_one_click_unsubscribe_works_without_login_or_csrf_and_get_changes_nothing(
        customer_a, mailbox):
    url = notices.unsubscribe_url(customer_a.pk, notices.REMINDER)
    client = Client(enforce_csrf_checks=True)
    path = url.removeprefix("http://127.0.0.1:8000").removeprefix("http://testserver")
    assert client.get(path).status_code == 200
    assert not CustomerMailPreference.objects.filter(user=customer_a).exists()
    response = client.post(path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and b"unsubscribed" in response.content
    pref = CustomerMailPreference.objects.get(user=customer_a)
    assert (pref.reminders, pref.incident_updates, pref.all_email) == (False, True, True)
    assert client.post(path[:-6] + "xxxxx/").status_code == 404  # forged token


def test_preferences_page_saves_per_person(customer_a, client):
    client.force_login(customer_a)
    url = reverse("mailgate:preferences")
    assert client.get(url).status_code == 200
    client.post(url, {"all_email": "on", "status_updates": "on", "reminders": "on"})
    pref = CustomerMailPreference.objects.get(user=customer_a)
    assert (pref.all_email, pref.incident_updates) == (True, False)


def test_hourly_cap_per_address_records_the_rest_as_suppressed(
        customer_a, mailbox, run, settings):
    settings.HELPDESK_CUSTOMER_MAIL_HOURLY_CAP = 2
    for i in range(3):
        run(make_ticket, customer_a, subject=f"Ticket {i}")
    assert len(mail.outbox) == 2
    assert OutboundEmail.objects.filter(status=OutboundStatus.SUPPRESSED).count() == 1
    with time_machine.travel(timezone.now() + dt.timedelta(hours=1, minutes=1)):
        run(make_ticket, customer_a, subject="Next hour")
    assert len(mail.outbox) == 3


def test_team_wording_sender_name_and_signature(customer_a, agent, l1, mailbox, run):
    TeamSender.objects.create(team=l1, sender_name="Acme Care",
                              signature="Acme Care team\nhttps://care.example")
    NoticeTemplate.objects.create(key="customer.created", team=l1,
                                  subject="Got it: {{ ticket_subject }}",
                                  body_text="Hi {{ customer_name }}!\n\n{{ signature }}")
    ticket = make_ticket(customer_a)
    assert ticket.team == l1
    mail.outbox.clear()
    notices.queue_ticket_notice("customer.created", ticket.pk, at=timezone.now(),
                                actor_id=None)
    run(lambda: None)
    row = OutboundEmail.objects.filter(notice="customer.created").latest("pk")
    tasks.send_outbound_email.delay(row.pk)
    sent = mail.outbox[-1]
    assert sent.subject.startswith("Got it: Cannot log in")
    assert sent.from_email == "Acme Care <support@helpdesk.test>"
    assert "Acme Care team" in sent.body and "Acme Care team<br>" in html_of(sent)


def test_agent_sees_bounced_and_unsubscribed_people_on_any_ticket(
        customer_a, carol, agent, client, mailbox):
    ticket = make_ticket(customer_a, channel=Channel.WEB)
    ticket.ccs.add(carol)
    CustomerMailPreference.objects.create(user=customer_a, reminders=False)
    CustomerMailPreference.objects.create(user=carol, all_email=False)
    client.force_login(agent)
    page = client.get(reverse("agent:ticket", args=[ticket.pk])).content.decode()
    assert "alice@acme.example</strong> unsubscribed from reminders" in page
    assert "carol@acme.example</strong> unsubscribed from all e-mail" in page
    client.force_login(customer_a)
    portal = client.get(reverse("portal:ticket", args=[ticket.pk])).content.decode()
    assert "unsubscribed from" not in portal


def test_admin_previews_a_notice_against_a_real_ticket(
        customer_a, agent, admin_user, client, mailbox, run):
    ticket = make_ticket(customer_a, subject="Printer <b>jam</b>")
    run(ticket_services.add_reply, ticket, author=agent, body="Try **this**.")
    client.force_login(admin_user)
    url = reverse("admin:mailgate_notice_preview")
    page = client.get(url, {"key": "customer.reply", "ticket": ticket.pk}).content.decode()
    assert "Re: Printer &lt;b&gt;jam&lt;/b&gt;" in page
    assert "&lt;strong&gt;this&lt;/strong&gt;" in page  # the HTML part, inert in srcdoc
    assert "<b>jam</b>" not in page
    client.force_login(agent)
    assert client.get(url, {"key": "customer.reply", "ticket": ticket.pk}).status_code in (
        302, 403)


def test_customer_finds_the_e_mail_preferences_from_the_portal(customer_a, client):
    client.force_login(customer_a)
    page = client.get(reverse("portal:tickets")).content.decode()
    assert f'href="{reverse("mailgate:preferences")}">E-mail preferences</a>' in page

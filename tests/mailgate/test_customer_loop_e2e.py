"""Issue 18, end to end with real pieces: the product sends over SMTP to aiosmtpd, the
customer's answer comes back through the inbound webhook. A customer files in the portal →
acknowledgement → agent reply e-mail → her e-mail answer lands on the same ticket (history
stripped, status back in work) → resolved e-mail → survey."""
from __future__ import annotations

import datetime as dt
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from helpdesk import notifications
from mailgate.models import Mailbox
from tickets import surveys
from tickets.models import Ticket
from tickets.state_machine import Status

from .test_integration import Recorder

pytestmark = pytest.mark.django_db(transaction=True)  # real commits: handlers after commit

TOKEN = "e2e-Webhook-token-9"


def take(recorder: Recorder, to: str = "alice@acme.example",
         ) -> list[tuple[list[str], EmailMessage]]:
    """The mails `to` received since the last call, parsed; everything else received is
    left aside (staff notices travel the same way)."""
    out = [(rcpt, message_from_bytes(data, policy=policy.default))
           for _, rcpt, data in recorder.messages if rcpt == [to]]
    recorder.messages.clear()
    return out


def text_of(msg: EmailMessage) -> str:
    return msg.get_body(("plain",)).get_content()


def test_portal_ticket_conversation_by_e_mail_from_filing_to_survey(
        smtp_sink, monkeypatch, customer_a, agent, settings):
    monkeypatch.setenv("E2E_MAILGATE_TOKEN", TOKEN)
    Mailbox.objects.create(name="support", address="support@helpdesk.test", imap_host="",
                           webhook_token_env="E2E_MAILGATE_TOKEN")
    settings.HELPDESK_SURVEY_DELAY = dt.timedelta(minutes=1)
    alice, agnes = Client(), Client()
    alice.force_login(customer_a)
    agnes.force_login(agent)

    # 1. Alice files in the portal: the acknowledgement arrives over SMTP.
    response = alice.post(reverse("portal:new_ticket"), {
        "subject": "Export to CSV fails", "description": "Error 500 since this morning."})
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    staff_mail = [m for _, rcpt, m in smtp_sink.messages if rcpt == [agent.email]]
    [(rcpt, ack)] = take(smtp_sink)
    assert rcpt == ["alice@acme.example"]
    assert ack["Subject"] == f"We received your request: Export to CSV fails [HD-{ticket.pk}]"
    assert ack["Auto-Submitted"] == "auto-generated"
    assert ack["Reply-To"] == "support@helpdesk.test"
    assert f"/portal/tickets/{ticket.pk}/" in text_of(ack)
    assert "We aim to answer by" in text_of(ack)

    # The auto-assigner gave it to Agnes, and told her (bell and e-mail).
    assert ticket.assignee == agent
    assert list(agent.notifications.values_list("source", flat=True)) == ["staff.assigned"]
    assert len(staff_mail) == 1

    # 2. Agnes answers in the workspace: a threaded reply, Markdown rendered in HTML.
    assert agnes.post(reverse("agent:reply", args=[ticket.pk]), {
        "body": "Please **retry** the export now.", "visibility": "public",
        "set_status": Status.WAITING_ON_CUSTOMER.value,
        "status_reason": "Did the retry work?"}).status_code == 302
    [(_, reply)] = take(smtp_sink)  # the reply that asks is the one e-mail (no "waiting" too)
    assert reply["In-Reply-To"] == ack["Message-ID"]  # answers the acknowledgement thread
    assert "<strong>retry</strong>" in reply.get_body(("html",)).get_content()
    assert "> Error 500 since this morning." in text_of(reply)
    assert "What we need from you: Did the retry work?" in text_of(reply)
    ticket.refresh_from_db()
    assert ticket.status == Status.WAITING_ON_CUSTOMER

    # 3. Alice answers the reply from her mail client; the MTA posts it to the webhook.
    answer = EmailMessage()
    answer["From"] = "Alice <alice@acme.example>"
    answer["To"] = "support@helpdesk.test"
    answer["Subject"] = f"Re: {reply['Subject']}"
    answer["Message-ID"] = "<answer.alice@acme.example>"
    answer["In-Reply-To"] = reply["Message-ID"]
    answer["References"] = f"{ack['Message-ID']} {reply['Message-ID']}"
    answer["Date"] = "Mon, 30 Nov 2026 12:00:00 +0000"
    answer.set_content("Yes, it works now. Thanks!\n\nOn Monday, Agnes wrote:\n"
                       "> Please **retry** the export now.\n")
    response = Client().post(reverse("mailgate:inbound", args=["support"]),
                             data=answer.as_bytes(policy=policy.SMTP),
                             content_type="message/rfc822",
                             HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 202 and response.json()["ticket"] == ticket.pk
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS  # as a portal reply would
    latest = ticket.messages.order_by("-pk").first()
    assert (latest.body, latest.by_agent) == ("Yes, it works now. Thanks!", False)
    # The assignee hears of it: the bell counts it and the notice arrives over SMTP;
    # Alice is not told of her own answer.
    assert notifications.unread_count(agent) == 2
    note = agent.notifications.first()  # the newest
    assert note.source == "staff.customer_replied" and f"/{ticket.pk}/" in note.url
    staff_mail = [m for _, rcpt, m in smtp_sink.messages if rcpt == [agent.email]]
    assert len(staff_mail) == 1 and str(ticket.pk) in staff_mail[0].decode()
    assert take(smtp_sink) == []

    # 4. Agnes resolves it: the resolved e-mail, then the survey.
    assert agnes.post(reverse("agent:transition", args=[ticket.pk]),
                      {"to": "resolved", "reason": "Works again"}).status_code == 302
    [(_, resolved)] = take(smtp_sink)
    assert resolved["Subject"] == f"Resolved: Export to CSV fails [HD-{ticket.pk}]"
    assert "reopen" in text_of(resolved)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=5), tick=False):
        assert surveys.send_due_surveys() == 1
    [(rcpt, survey)] = take(smtp_sink)
    assert rcpt == ["alice@acme.example"]
    assert survey["Subject"].startswith(f"How did we do on ticket #{ticket.pk}?")
    # Threaded like the rest, so an answer in words lands on the ticket too.
    assert survey["Subject"].endswith(f"[HD-{ticket.pk}]")
    assert survey["Reply-To"] == "support@helpdesk.test"

"""Agent replies go out by e-mail once, threaded; failures show on the ticket page."""
from __future__ import annotations

import datetime as dt
import smtplib
from email import message_from_bytes, policy

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.urls import reverse
from django.utils import timezone

from helpdesk.roles import Role
from mailgate import outbound, services, tasks
from mailgate.models import OutboundEmail, OutboundStatus
from tests.factories import make_ticket, make_user
from tickets import services as ticket_services
from tickets.models import Channel

from .conftest import SENT_ID, corpus

pytestmark = pytest.mark.django_db

CUSTOMER_MAIL_ID = "CAHx=3vY9_gmail-reply-01@mail.gmail.com"


class FailingBackend(BaseEmailBackend):
    def send_messages(self, messages):
        raise smtplib.SMTPRecipientsRefused({"alice@acme.example": (550, b"mailbox full")})


@pytest.fixture
def replied(thread, mailbox, agent, django_capture_on_commit_callbacks):
    """Alice answered by mail (02), then the agent replied in the workspace."""
    services.ingest(corpus("02_gmail_reply.eml", thread.pk), mailbox)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        message = ticket_services.add_reply(thread, author=agent,
                                            body="The **second** prompt is a known bug.")
    return message


def test_agent_reply_is_mailed_with_threading_headers(replied, thread, mailbox, customer_a):
    [sent] = mail.outbox
    row = OutboundEmail.objects.get(key=f"reply:{replied.pk}")
    assert row.status == OutboundStatus.SENT and row.attempts == 1
    assert sent.to == [customer_a.email]
    assert sent.subject == f"Re: Cannot log in [HD-{thread.pk}]"
    assert sent.reply_to == ["support@helpdesk.test"]
    assert sent.from_email == "Agnes via support <support@helpdesk.test>"
    headers = sent.extra_headers
    assert headers["Message-ID"] == f"<{row.message_id}>"
    assert row.message_id.endswith("@helpdesk.test")
    assert headers["In-Reply-To"] == f"<{CUSTOMER_MAIL_ID}>"  # answers Alice's latest mail
    assert headers["References"] == f"<{SENT_ID}> <{CUSTOMER_MAIL_ID}>"
    assert "The **second** prompt is a known bug." in sent.body
    [(html, mimetype)] = sent.alternatives
    assert mimetype == "text/html" and "<strong>second</strong>" in html
    # On the wire the headers are single and well-formed.
    wire = message_from_bytes(sent.message().as_bytes(), policy=policy.default)
    assert wire.get_all("Message-ID") == [f"<{row.message_id}>"]


def test_customer_answer_to_our_mail_threads_back(replied, thread, mailbox):
    row = OutboundEmail.objects.get(key=f"reply:{replied.pk}")
    raw = (corpus("02_gmail_reply.eml")
           .replace(b"Subject: Re: Cannot log in [HD-{TICKET}]", b"Subject: Re: Cannot log in")
           .replace(SENT_ID.encode(), row.message_id.encode())
           .replace(CUSTOMER_MAIL_ID.encode(), b"second-answer@mail.gmail.com"))
    result = services.ingest(raw, mailbox)
    assert result.ticket == thread and result.status == "reply_added"


def test_internal_notes_and_customers_own_replies_are_not_mailed_web_replies_are(
        thread, agent, customer_a, django_capture_on_commit_callbacks):
    web = make_ticket(customer_a, channel=Channel.WEB)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        ticket_services.add_reply(thread, author=agent, body="Looks like SSO.", public=False)
        ticket_services.add_reply(web, author=agent, body="Portal answer.")
        ticket_services.add_reply(thread, author=customer_a, body="Customer via portal.")
    [sent] = mail.outbox  # the portal ticket's answer reaches its customer by e-mail too
    assert sent.to == ["alice@acme.example"] and "Portal answer." in sent.body
    assert "Looks like SSO" not in sent.body
    assert list(OutboundEmail.objects.filter(key__startswith="reply:").exclude(
        key="reply:seed").values_list("ticket", flat=True)) == [web.pk]


def test_task_run_twice_sends_once(replied):
    row = OutboundEmail.objects.get(key=f"reply:{replied.pk}")
    assert tasks.send_outbound_email.delay(row.pk).get() == "skipped"
    assert outbound.send_outbound(row.pk) == "skipped"
    assert outbound.queue_reply(replied.pk) == row  # a duplicate event: same row, no task
    assert len(mail.outbox) == 1


def test_failure_is_retried_then_shown_on_ticket_and_agent_can_resend(
        thread, mailbox, agent, client, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "tests.mailgate.test_outbound.FailingBackend"
    with django_capture_on_commit_callbacks(execute=True):
        message = ticket_services.add_reply(thread, author=agent, body="Try again please.")
    row = OutboundEmail.objects.get(key=f"reply:{message.pk}")
    assert row.status == OutboundStatus.FAILED
    assert row.attempts == outbound.MAX_SEND_ATTEMPTS  # eager retries ran them all
    assert "mailbox full" in row.last_error

    client.force_login(agent)
    page = client.get(reverse("agent:ticket", args=[thread.pk])).content.decode()
    assert "Email delivery failed:" in page and "mailbox full" in page
    assert reverse("mailgate:retry", args=[row.pk]) in page

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("mailgate:retry", args=[row.pk]))
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.status == OutboundStatus.SENT and row.last_error == ""
    assert len(mail.outbox) == 1
    assert mail.outbox[0].extra_headers["Message-ID"] == f"<{row.message_id}>"  # same mail
    page = client.get(reverse("agent:ticket", args=[thread.pk])).content.decode()
    assert "Email delivery failed" not in page


def test_retry_is_a_404_for_customers_and_agents_who_cannot_see_the_ticket(
        thread, agent, customer_a, client, settings, django_capture_on_commit_callbacks, l2):
    settings.EMAIL_BACKEND = "tests.mailgate.test_outbound.FailingBackend"
    with django_capture_on_commit_callbacks(execute=True):
        message = ticket_services.add_reply(thread, author=agent, body="Hello")
    row = OutboundEmail.objects.get(key=f"reply:{message.pk}")
    outsider = make_user(Role.AGENT, teams=(l2,), username="otto")
    for user in (customer_a, outsider):
        client.force_login(user)
        assert client.post(reverse("mailgate:retry", args=[row.pk])).status_code == 404
    row.refresh_from_db()
    assert row.status == OutboundStatus.FAILED


def test_backoff_grows_and_is_capped():
    assert [outbound.backoff_seconds(n) for n in (1, 2, 3, 4, 8)] == [60, 120, 240, 480, 3600]


def test_retry_lost_with_the_broker_is_queued_again_after_its_backoff(
        thread, mailbox, agent, settings):
    """SMTP refused the first attempt; the retry waited in Redis, which restarted empty.
    The sweep leaves the row alone until its backoff (+ grace) is over, then sends it once."""
    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        message = ticket_services.add_reply(thread, author=agent, body="Try 4.2.1.")
        row = outbound.queue_reply(message.pk)
        assert outbound.send_outbound(row.pk) == "retry"  # the retry task is then lost
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox.clear()
    backoff = dt.timedelta(seconds=outbound.backoff_seconds(1))
    with time_machine.travel(start + backoff + dt.timedelta(minutes=4), tick=False):
        assert tasks.requeue_stalled_outbound() == 0  # its retry may still come
    assert mail.outbox == []
    with time_machine.travel(start + backoff + dt.timedelta(minutes=6), tick=False):
        assert tasks.requeue_stalled_outbound() == 1
        assert tasks.requeue_stalled_outbound() == 0
    [sent] = mail.outbox
    assert "Try 4.2.1." in sent.body
    row.refresh_from_db()
    assert (row.status, row.attempts) == (OutboundStatus.SENT, 2)


def test_sweep_leaves_sent_and_failed_e_mails_alone(thread, mailbox, agent):
    for key, status in (("reply:a", OutboundStatus.SENT), ("reply:b", OutboundStatus.FAILED)):
        OutboundEmail.objects.create(key=key, ticket=thread, mailbox=mailbox, to="a@b.example",
                                     message_id=f"{key}@helpdesk.test", subject="Re: x",
                                     status=status, attempts=5)
    mail.outbox.clear()
    with time_machine.travel(timezone.now() + dt.timedelta(days=1), tick=False):
        assert tasks.requeue_stalled_outbound() == 0
    assert mail.outbox == []

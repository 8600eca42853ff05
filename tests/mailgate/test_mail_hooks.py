"""Notifications and surveys built by helpdesk.mail get Message-ID, HTML and, for mail
tickets, the thread headers and token that bring a customer's answer back."""
from __future__ import annotations

from datetime import timedelta

import time_machine
from django.core import mail
from django.utils import timezone

from helpdesk.notifications import notify
from mailgate import services
from mailgate.models import OutboundEmail, OutboundStatus
from tickets import services as ticket_services
from tickets import surveys

from .conftest import SENT_ID, corpus


def test_notification_mail_has_message_id_html_part_and_auto_header(
        agent, settings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notify(agent, title="SLA warning on #7", body="80 % used.", url="/agent/tickets/7/",
               source="sla.level")
    [sent] = mail.outbox
    assert sent.extra_headers["Message-ID"].startswith("<hd.")
    assert sent.extra_headers["Auto-Submitted"] == "auto-generated"
    [(html, mimetype)] = sent.alternatives
    assert mimetype == "text/html" and "<strong>SLA warning on #7</strong>" in html
    assert f'href="{settings.HELPDESK_BASE_URL}/agent/tickets/7/"' in html
    assert "/agent/tickets/7/" in sent.body  # the text part is unchanged


def test_survey_of_a_mail_ticket_is_threaded_and_an_answer_lands_on_the_ticket(
        thread, mailbox, agent, settings, django_capture_on_commit_callbacks):
    settings.HELPDESK_SURVEY_DELAY = timedelta(minutes=1)
    with django_capture_on_commit_callbacks(execute=True):
        ticket_services.transition(thread, "resolved", actor=agent)
    mail.outbox.clear()
    with time_machine.travel(timezone.now() + timedelta(minutes=5), tick=False):
        assert surveys.send_due_surveys() == 1
    [sent] = mail.outbox
    assert sent.subject == f"How did we do on ticket #{thread.pk}? [HD-{thread.pk}]"
    # It answers the latest mail of the thread: the "resolved" notice.
    resolved = OutboundEmail.objects.get(notice="customer.resolved")
    assert sent.extra_headers["In-Reply-To"] == f"<{resolved.message_id}>"
    assert f"<{SENT_ID}>" in sent.extra_headers["References"]
    assert sent.reply_to == ["support@helpdesk.test"]
    [(html, _)] = sent.alternatives
    assert html.count("/rate/") == 5  # the five one-click ratings
    row = OutboundEmail.objects.get(kind="survey")
    assert row.status == OutboundStatus.EXTERNAL
    assert sent.extra_headers["Message-ID"] == f"<{row.message_id}>"
    # The customer answers the survey mail in words: it reopens the same ticket.
    raw = (corpus("02_gmail_reply.eml")
           .replace(b"Subject: Re: Cannot log in [HD-{TICKET}]", b"Subject: Re: How did we do")
           .replace(SENT_ID.encode(), row.message_id.encode()))
    result = services.ingest(raw, mailbox)
    assert result.ticket == thread and result.status == "reply_added"

"""The email channel API: a ticket's mail thread and the retry of a failed e-mail."""
from __future__ import annotations

import pytest
from django.core import mail

from helpdesk.roles import Role
from mailgate import services
from mailgate.models import OutboundEmail, OutboundStatus
from tests.factories import make_user
from tickets import services as ticket_services

from .conftest import SENT_ID, corpus

pytestmark = pytest.mark.django_db


def test_agent_reads_the_mail_thread(client, agent, thread, mailbox):
    services.ingest(corpus("02_gmail_reply.eml", thread.pk), mailbox)
    client.force_login(agent)
    body = client.get(f"/api/v1/tickets/{thread.pk}/mail/").json()
    assert body["ticket"] == thread.pk
    assert [m["message_id"] for m in body["inbound"]] == [
        "CAHx=3vY9_gmail-reply-01@mail.gmail.com"]
    assert [m["message_id"] for m in body["outbound"]] == [SENT_ID]


def test_customers_and_outsiders_get_404(client, customer_a, thread, l2):
    outsider = make_user(Role.AGENT, teams=(l2,), username="otto")
    for user in (customer_a, outsider):
        client.force_login(user)
        assert client.get(f"/api/v1/tickets/{thread.pk}/mail/").status_code == 404


def test_retry_failed_email_over_the_api(client, agent, thread, settings,
                                         django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "tests.mailgate.test_outbound.FailingBackend"
    with django_capture_on_commit_callbacks(execute=True):
        message = ticket_services.add_reply(thread, author=agent, body="Hello")
    row = OutboundEmail.objects.get(key=f"reply:{message.pk}")
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    client.force_login(agent)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/mail/outbound/{row.pk}/retry/")
    assert response.status_code == 200
    row.refresh_from_db()
    assert row.status == OutboundStatus.SENT and len(mail.outbox) == 1
    again = client.post(f"/api/v1/mail/outbound/{row.pk}/retry/")
    assert again.status_code == 409 and len(mail.outbox) == 1

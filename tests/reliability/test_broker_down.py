"""Redis (the Celery broker) is down while people keep working.

Tasks are queued for real (not run eagerly) towards a port nothing listens on. Saving
what a person did must not depend on the broker: jobs that cannot be queued are the
worker's to catch up on, never a reason to fail (and so repeat) a request.
Runs on SQLite and PostgreSQL.
"""
from __future__ import annotations

import contextlib
import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from helpdesk.celery import app
from helpdesk.roles import Role
from mailgate import tasks as mail_tasks
from mailgate.models import Mailbox, OutboundEmail, OutboundStatus
from sla.models import Clock
from tests.factories import make_org, make_ticket, make_user, team
from tickets import tasks as ticket_tasks
from tickets.models import Channel, Message, PendingEvents, Ticket

from .conftest import free_port

pytestmark = [pytest.mark.django_db(transaction=True)]


@contextlib.contextmanager
def broker_unreachable():
    """Tasks really go to a broker, and nothing listens where it should be."""
    saved = {key: app.conf[key] for key in ("task_always_eager", "broker_url")}
    saved_pool = app._pool
    app.conf.update(task_always_eager=False,
                    broker_url=f"redis://127.0.0.1:{free_port()}/0")
    app._pool = None  # a producer pool for that URL
    try:
        yield
    finally:
        if app._pool is not None:
            app._pool.force_close_all()
        app.conf.update(saved)
        app._pool = saved_pool
        # The producer pool is cached over the connection pool just closed: drop it too,
        # or the next test's tasks fail with "Acquire on closed pool".
        app.amqp._producer_pool = None


@pytest.fixture
def broker_down():
    with broker_unreachable():
        yield


def test_a_ticket_filed_through_the_api_is_saved_once(broker_down):
    customer = make_user(Role.CUSTOMER, org=make_org())
    api = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=customer).key}",
                 raise_request_exception=False)
    response = api.post("/api/v1/tickets/", {"subject": "Export fails",
                                              "description": "It stops at 10k rows."},
                        content_type="application/json")
    assert response.status_code == 201, response.content[:300]
    ticket = Ticket.objects.get(requester=customer)
    assert response.json()["id"] == ticket.pk
    # The SLA clocks start in the request itself, broker or not.
    assert Clock.objects.filter(ticket=ticket).exists()


def test_an_agent_reply_is_saved_once(broker_down):
    customer = make_user(Role.CUSTOMER, org=make_org())
    agent = make_user(Role.AGENT, teams=(team("l1-general"),))
    ticket = make_ticket(customer)
    web = Client(raise_request_exception=False)
    web.force_login(agent)
    response = web.post(f"/agent/tickets/{ticket.pk}/reply/",
                        {"body": "We are on it.", "visibility": "public"})
    assert response.status_code == 302
    assert response.url == f"/agent/tickets/{ticket.pk}/"
    assert Message.objects.filter(ticket=ticket, body="We are on it.").count() == 1


def test_reply_e_mail_queued_while_the_broker_was_down_is_sent_once_later():
    """The reply is saved with its reactions in the outbox; their task could not be
    queued (a broker that takes nothing in). Once the broker is back, the beat sweeps
    queue them again: the reply's e-mail row is written and sent, and the customer gets
    one mail, however often the sweeps run."""
    Mailbox.objects.create(name="support", address="support@helpdesk.test", imap_host="")
    customer = make_user(Role.CUSTOMER, org=make_org(), email="carla@example.com")
    agent = make_user(Role.AGENT, teams=(team("l1-general"),))
    ticket = make_ticket(customer, channel=Channel.EMAIL)
    web = Client(raise_request_exception=False)
    web.force_login(agent)
    mail.outbox.clear()
    with broker_unreachable():
        response = web.post(f"/agent/tickets/{ticket.pk}/reply/",
                            {"body": "Fixed in 4.2.1.", "visibility": "public"})
    assert response.status_code == 302
    assert Message.objects.filter(ticket=ticket, body="Fixed in 4.2.1.").count() == 1
    # Either its reactions wait in the outbox, or (the broker refused at once) they ran
    # in the request and the e-mail row waits for its send task.
    replies = OutboundEmail.objects.filter(ticket=ticket, kind="reply")
    assert PendingEvents.objects.exists() or replies.filter(
        status=OutboundStatus.QUEUED, attempts=0).count() == 1
    assert mail.outbox == []

    # The broker is back (tasks run eagerly here). Within the grace periods: left alone.
    assert ticket_tasks.requeue_pending_events() == 0
    assert mail_tasks.requeue_stalled_outbound() == 0
    later = timezone.now() + dt.timedelta(minutes=6)
    with time_machine.travel(later, tick=False):
        ticket_tasks.requeue_pending_events()
        mail_tasks.requeue_stalled_outbound()
        assert ticket_tasks.requeue_pending_events() == 0
        assert mail_tasks.requeue_stalled_outbound() == 0
    assert not PendingEvents.objects.exists()
    [sent] = [m for m in mail.outbox if m.subject.startswith("Re:")]
    assert sent.to == ["carla@example.com"] and "Fixed in 4.2.1." in sent.body
    [row] = replies
    assert (row.status, row.attempts) == (OutboundStatus.SENT, 1)

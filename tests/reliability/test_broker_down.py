"""Redis (the Celery broker) is down while people keep working.

Tasks are queued for real (not run eagerly) towards a port nothing listens on. Saving
what a person did must not depend on the broker: jobs that cannot be queued are the
worker's to catch up on, never a reason to fail (and so repeat) a request.
Runs on SQLite and PostgreSQL.
"""
from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from helpdesk.celery import app
from helpdesk.roles import Role
from sla.models import Clock
from tests.factories import make_org, make_ticket, make_user, team
from tickets.models import Message, Ticket

from .conftest import free_port

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def broker_down():
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

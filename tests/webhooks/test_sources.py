"""Each event type reaches a subscribed endpoint from where it happens."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from incidents import services as incident_services
from sla import escalation
from tickets import services, surveys
from tickets.models import Survey, Ticket
from webhooks.models import Delivery, EventType

from ..factories import make_ticket
from ..sla.test_escalation import make_policy, start_clock

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 10, 11, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def traveller():
    with time_machine.travel(T0, tick=False) as t:
        yield t


@pytest.fixture
def hooked(receiver, endpoint_for):
    endpoint_for(receiver, events=EventType.values)
    return receiver


def payloads(receiver, event_type: str) -> list[dict]:
    return [r.payload for r in receiver.requests if r.payload["type"] == event_type]


def test_public_replies_and_updates_are_sent_but_not_internal_notes(hooked, run, customer_a,
                                                                    agent, l1):
    ticket = run(make_ticket, customer_a)
    run(services.update_ticket, ticket, actor=agent, changes={"priority": 1})
    run(services.add_reply, ticket, author=agent, body="Try a new password.")
    run(services.add_reply, ticket, author=agent, body="Internal: user is VIP.", public=False)

    [replied] = payloads(hooked, "ticket.replied")
    assert replied["data"]["message"]["body"] == "Try a new password."
    assert replied["data"]["message"]["author"]["id"] == agent.pk
    assert replied["data"]["ticket"]["id"] == ticket.pk
    changes = [p["data"]["change"] for p in payloads(hooked, "ticket.updated")]
    assert {"kind": "priority", "actor_id": agent.pk, "before": 3, "after": 1} in changes
    assert not any("VIP" in r.body.decode() for r in hooked.requests)
    assert all(r.signature_ok for r in hooked.requests)
    assert Delivery.objects.filter(status="succeeded").count() == len(hooked.requests)


def test_survey_answer_is_sent(hooked, run, customer_a):
    ticket = make_ticket(customer_a)
    now = timezone.now()
    survey = Survey.objects.create(ticket=ticket, resolution=0, requester=customer_a,
                                   status=Survey.Status.SENT, scheduled_for=now, sent_at=now,
                                   expires_at=now + timedelta(days=7))
    run(surveys.record_click, survey, 5)
    run(surveys.record_click, survey, 4)  # already rated: nothing happened, nothing sent
    [answered] = payloads(hooked, "survey.answered")
    assert answered["data"]["survey"]["rating"] == 5
    assert answered["data"]["ticket"]["id"] == ticket.pk


def test_sla_level_reached_is_sent_once(hooked, run, customer_a):
    ticket = make_ticket(customer_a)
    policy = make_policy()
    clock = start_clock(Ticket.objects.get(pk=ticket.pk), policy, started=T0)
    with time_machine.travel(T0 + timedelta(minutes=31), tick=False):
        run(escalation.fire_due_levels)
        run(escalation.fire_due_levels)  # a second scan: the level does not fire again
    [reached] = payloads(hooked, "sla.level_reached")
    assert reached["data"]["level"] == {"percent": 50, "colour": "yellow", "breach": False}
    assert reached["data"]["clock"]["id"] == clock.pk
    assert reached["data"]["ticket"]["id"] == ticket.pk
    assert reached["occurred_at"] == (T0 + timedelta(minutes=30)).isoformat()


def test_incident_update_is_sent(hooked, run, lead):
    incident = run(incident_services.declare, title="Login outage", users_affected="multiple",
                   impact="complete", actor=lead)
    update = run(incident_services.publish_update, incident, kind="initial",
                 body="Engineers are rolling back.", actor=lead)
    [sent] = payloads(hooked, "incident.updated")
    assert sent["data"]["incident"]["title"] == "Login outage"
    assert sent["data"]["update"] == {"id": update.pk, "kind": "initial",
                                      "status": update.status,
                                      "body": "Engineers are rolling back.",
                                      "created_at": T0.isoformat()}


def test_incident_resolution_is_sent(hooked, run, lead):
    incident = run(incident_services.declare, title="Login outage", users_affected="multiple",
                   impact="complete", actor=lead)
    run(incident_services.resolve, incident, body="Fixed by the rollback.", actor=lead)
    [sent] = payloads(hooked, "incident.updated")
    assert sent["data"]["update"]["kind"] == "resolution"
    assert sent["data"]["incident"]["status"] == "resolved"
    assert sent["data"]["incident"]["resolved_at"] == T0.isoformat()

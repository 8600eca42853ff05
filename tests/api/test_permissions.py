"""Who sees which ticket through the API: anything outside your view is a 404, never a 403."""
from __future__ import annotations

import pytest

from tests.factories import PACKET
from tickets.models import Message, Ticket, TicketEvent

TICKETS = "/api/v1/tickets/"


def every_request(client, ticket, l2):
    """Each ticket endpoint once, with a body that would succeed for someone allowed."""
    base = f"{TICKETS}{ticket.pk}/"
    return {
        "retrieve": client.get(base),
        "patch": client.patch(base, {"priority": 1}, format="json"),
        "transition": client.post(f"{base}transition/", {"to": "resolved"}, format="json"),
        "escalate": client.post(f"{base}transition/",
                                {"to": "escalated", "to_team": l2.pk, "packet": PACKET},
                                format="json"),
        "messages": client.get(f"{base}messages/"),
        "reply": client.post(f"{base}messages/", {"body": "hi"}, format="json"),
        "events": client.get(f"{base}events/"),
    }


def test_customer_cannot_reach_another_customers_ticket(client_for, customer_a, ticket_b, l2):
    client = client_for(customer_a)
    events_before = TicketEvent.objects.filter(ticket=ticket_b).count()

    assert ticket_b.pk not in {t["id"] for t in client.get(TICKETS).json()["results"]}
    answers = every_request(client, ticket_b, l2)

    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(answers, 404)
    fresh = Ticket.objects.get(pk=ticket_b.pk)
    assert (fresh.status, fresh.priority) == (ticket_b.status, ticket_b.priority)
    assert not Message.objects.filter(ticket=ticket_b).exists()
    assert TicketEvent.objects.filter(ticket=ticket_b).count() == events_before


def test_customer_list_holds_only_their_tickets(client_for, customer_a, ticket_a, ticket_b):
    body = client_for(customer_a).get(TICKETS).json()
    assert [t["id"] for t in body["results"]] == [ticket_a.pk]
    assert body["next"] is None


def test_list_filters_cannot_widen_the_view(client_for, customer_a, customer_b, ticket_b):
    response = client_for(customer_a).get(TICKETS, {"requester": customer_b.pk})
    assert response.json()["results"] == []


def test_l2_agent_gets_404_on_an_l1_ticket(client_for, l2_agent, ticket_a, l2):
    client = client_for(l2_agent)
    assert ticket_a.pk not in {t["id"] for t in client.get(TICKETS).json()["results"]}
    answers = every_request(client, ticket_a, l2)
    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(answers, 404)
    assert Ticket.objects.get(pk=ticket_a.pk).status == "new"


def test_manager_sees_every_ticket(client_for, manager, ticket_a, ticket_b):
    client = client_for(manager)
    assert {t["id"] for t in client.get(TICKETS).json()["results"]} == {ticket_a.pk, ticket_b.pk}
    assert client.get(f"{TICKETS}{ticket_b.pk}/").status_code == 200
    assert client.get(f"{TICKETS}{ticket_b.pk}/events/").status_code == 200


def test_org_admin_sees_the_organizations_tickets(client_for, org_admin_a, ticket_a, ticket_b):
    body = client_for(org_admin_a).get(TICKETS).json()
    assert [t["id"] for t in body["results"]] == [ticket_a.pk]


def test_agent_sees_their_teams_tickets(client_for, ticket_a, agent):
    assert client_for(agent).get(f"{TICKETS}{ticket_a.pk}/").status_code == 200


@pytest.mark.parametrize("path", [TICKETS, "/api/v1/organizations/", "/api/v1/users/",
                                  "/api/v1/users/me/"])
def test_anonymous_requests_are_refused(db, path):
    from rest_framework.test import APIClient

    assert APIClient().get(path).status_code in (401, 403)


def test_inactive_user_sees_nothing(client_for, customer_a, ticket_a):
    customer_a.is_active = False
    customer_a.save()
    response = client_for(customer_a).get(f"{TICKETS}{ticket_a.pk}/")
    assert response.status_code in (401, 403, 404)

"""POST /tickets/{id}/transition/: the state machine over HTTP; a refusal changes nothing."""
from __future__ import annotations

from tests.factories import PACKET
from tickets.models import Escalation, Ticket, TicketEvent

TICKETS = "/api/v1/tickets/"


def post(client, ticket, **body):
    return client.post(f"{TICKETS}{ticket.pk}/transition/", body, format="json")


def snapshot(ticket: Ticket) -> tuple:
    fresh = Ticket.objects.get(pk=ticket.pk)
    return (fresh.status, fresh.team_id, fresh.assignee_id, fresh.updated_at,
            TicketEvent.objects.filter(ticket=ticket).count(),
            Escalation.objects.filter(ticket=ticket).count())


def test_allowed_transition_returns_the_updated_ticket(client_for, agent, assigned_ticket):
    response = post(client_for(agent), assigned_ticket, to="in_progress")

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "in_progress"
    assert response.json()["status_label"] == "In progress"
    assert assigned_ticket.events.filter(kind="status", after="in_progress", actor=agent).exists()


def test_illegal_transition_is_400_and_changes_nothing(client_for, agent, assigned_ticket):
    before = snapshot(assigned_ticket)

    response = post(client_for(agent), assigned_ticket, to="closed", reason="done")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "A ticket cannot go from Assigned to Closed.", "missing": [],
    }
    assert snapshot(assigned_ticket) == before


def test_unknown_target_status_is_400(client_for, agent, assigned_ticket):
    before = snapshot(assigned_ticket)
    response = post(client_for(agent), assigned_ticket, to="archived")
    assert response.status_code == 400
    assert "to" in response.json()
    assert snapshot(assigned_ticket) == before


def test_missing_reason_is_400_listing_it(client_for, agent, assigned_ticket):
    before = snapshot(assigned_ticket)

    response = post(client_for(agent), assigned_ticket, to="waiting_on_customer")

    assert response.status_code == 400
    assert response.json()["missing"] == ["reason"]
    assert "reason" in response.json()["detail"]
    assert snapshot(assigned_ticket) == before

    ok = post(client_for(agent), assigned_ticket, to="waiting_on_customer",
              reason="Asked for the HAR file")
    assert ok.status_code == 200
    assert Ticket.objects.get(pk=assigned_ticket.pk).waiting_reason == "Asked for the HAR file"


def test_escalate_with_a_complete_packet(client_for, agent, l2, l2_agent, assigned_ticket):
    response = post(client_for(agent), assigned_ticket, to="escalated", to_team=l2.pk,
                    packet=PACKET)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["team"]["id"] == l2.pk
    assert body["handoff"]["issue_summary"] == PACKET["issue_summary"]
    escalation = Escalation.objects.get(ticket=assigned_ticket)
    assert escalation.to_team == l2 and escalation.actor == agent
    assert escalation.customer_expectation == PACKET["customer_expectation"]


def test_escalate_with_an_incomplete_packet_is_400_and_changes_nothing(
        client_for, agent, l2, assigned_ticket):
    before = snapshot(assigned_ticket)
    packet = {**PACKET, "next_steps": "", "troubleshooting_done": "  "}

    response = post(client_for(agent), assigned_ticket, to="escalated", to_team=l2.pk,
                    packet=packet)

    assert response.status_code == 400
    assert response.json()["missing"] == ["packet.next_steps", "packet.troubleshooting_done"]
    assert snapshot(assigned_ticket) == before


def test_escalate_without_packet_or_team_lists_both(client_for, agent, assigned_ticket):
    response = post(client_for(agent), assigned_ticket, to="escalated")
    assert response.status_code == 400
    assert response.json()["missing"] == ["packet", "to_team"]


def test_send_to_engineering(client_for, agent, assigned_ticket):
    client = client_for(agent)
    assert post(client, assigned_ticket, to="in_progress").status_code == 200

    response = post(client, assigned_ticket, to="engineering", packet=PACKET)

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "engineering"
    assert response.json()["handoff"]["escalation_kind"] == "engineering"


def test_assign_needs_an_agent(client_for, ticket_a, customer_b, agent):
    # ticket_a is filed before any agent joins L1, so it stays new
    assert ticket_a.status == "new"
    client = client_for(agent)
    refused = post(client, ticket_a, to="assigned", assignee=customer_b.pk)
    assert refused.status_code == 400
    assert Ticket.objects.get(pk=ticket_a.pk).status == "new"

    response = post(client, ticket_a, to="assigned", assignee=agent.pk)
    assert response.status_code == 200
    assert response.json()["assignee"]["id"] == agent.pk


def test_customer_resolves_and_reopens_their_own_ticket(client_for, customer_a, assigned_ticket):
    client = client_for(customer_a)
    assert post(client, assigned_ticket, to="resolved").status_code == 200

    response = post(client, assigned_ticket, to="in_progress", reason="Still broken")

    assert response.status_code == 200
    assert response.json()["reopen_count"] == 1


def test_customer_cannot_escalate(client_for, customer_a, l2, assigned_ticket):
    before = snapshot(assigned_ticket)
    response = post(client_for(customer_a), assigned_ticket, to="escalated", to_team=l2.pk,
                    packet=PACKET)
    assert response.status_code == 403
    assert response.json()["detail"] == "Only agents can set packet, to team."
    assert snapshot(assigned_ticket) == before


def test_cc_follower_may_resolve_the_ticket_they_follow(client_for, org_a, assigned_ticket):
    from helpdesk.roles import Role
    from tests.factories import make_user

    colleague = make_user(Role.CUSTOMER, org=org_a, username="cc_colleague")
    assigned_ticket.ccs.add(colleague)
    response = post(client_for(colleague), assigned_ticket, to="resolved")
    assert response.status_code == 200

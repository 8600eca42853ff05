"""Returning an escalation for missing context: back to the escalating side, counted as rework."""
from datetime import timedelta

import pytest

from casework import selectors
from helpdesk.models import Notification
from tests.factories import PACKET
from tickets import services
from tickets.models import Escalation, EventKind, Message, Ticket, TicketEvent
from tickets.state_machine import Status, TransitionError

from .conftest import T0


@pytest.fixture
def escalated(agent, l2_agent, l2, ticket_a):
    """Agnes (L1) escalates Alice's ticket to L2, where Leo gets it."""
    ticket = services.escalate(ticket_a, to_team=l2, packet=PACKET, actor=agent)
    assert (ticket.team, ticket.assignee, ticket.status) == (l2, l2_agent, Status.ASSIGNED)
    return ticket


def test_return_sends_ticket_back_to_escalating_agent_with_the_request(
        escalated, agent, l2_agent, l1, committed):
    with committed():
        ticket = services.return_escalation(escalated, actor=l2_agent,
                                            missing="Which SSO provider? Attach the SAML trace.")
    ticket = Ticket.objects.get(pk=ticket.pk)
    assert (ticket.team, ticket.assignee, ticket.status) == (l1, agent, Status.ASSIGNED)
    esc = Escalation.objects.get(ticket=ticket)
    assert esc.returned_by == l2_agent and esc.returned_at is not None
    assert esc.missing_context == "Which SSO provider? Attach the SAML trace."
    event = TicketEvent.objects.get(ticket=ticket, kind=EventKind.RETURNED)
    assert (event.actor, event.before, event.after) == (l2_agent, "L2 Technical", "L1 General")
    assert not event.is_public  # the customer never sees internal hand-offs
    note = Message.objects.filter(ticket=ticket, is_public=False).last()
    assert "Attach the SAML trace" in note.body
    assert Notification.objects.filter(recipient=agent,
                                       source="tickets.escalation_returned").count() == 1


def test_returned_escalation_counts_as_rework(escalated, agent, l2_agent, l2, travel):
    services.return_escalation(escalated, actor=l2_agent, missing="Logs please.")
    services.escalate(Ticket.objects.get(pk=escalated.pk), to_team=l2, packet=PACKET,
                      actor=agent)
    f = selectors.Filters(start=T0 - timedelta(days=3650), end=T0 + timedelta(days=3650))
    totals = selectors.totals(f)
    assert (totals.escalations, totals.returned) == (2, 1)
    assert totals.rework == 0.5


def test_only_the_open_escalation_can_be_returned_and_a_reason_is_required(
        escalated, l2_agent):
    with pytest.raises(Exception, match="missing"):
        services.return_escalation(escalated, actor=l2_agent, missing="  ")
    services.return_escalation(escalated, actor=l2_agent, missing="Logs please.")
    with pytest.raises(TransitionError, match="no open escalation"):
        services.return_escalation(Ticket.objects.get(pk=escalated.pk), actor=l2_agent,
                                   missing="again")
    assert Escalation.objects.filter(returned_at__isnull=False).count() == 1


def test_engineering_escalation_returns_to_work(escalated, l2_agent):
    ticket = services.transition(escalated, Status.IN_PROGRESS, actor=l2_agent)
    ticket = services.escalate(ticket, to_team=None, packet=PACKET, actor=l2_agent,
                               engineering=True)
    assert ticket.status == Status.ENGINEERING
    ticket = services.return_escalation(ticket, actor=l2_agent, missing="Need a HAR file.")
    assert ticket.status == Status.IN_PROGRESS
    esc = Escalation.objects.get(ticket=ticket, kind=Escalation.Kind.ENGINEERING)
    assert esc.missing_context == "Need a HAR file."


def test_return_button_works_for_the_receiving_tier_only(client, escalated, agent, l2_agent,
                                                         l1):
    url = f"/casework/tickets/{escalated.pk}/return-escalation/"
    # The escalating L1 agent cannot see the L2 ticket any more: 404, nothing changes.
    client.force_login(agent)
    assert client.post(url, {"missing": "x"}).status_code == 404
    client.force_login(l2_agent)
    page = client.get(f"/agent/tickets/{escalated.pk}/")
    assert b"Return this escalation" in page.content
    response = client.post(url, {"missing": "Which browser?"})
    assert response.status_code == 302  # back to the queue: the ticket left Leo's view
    ticket = Ticket.objects.get(pk=escalated.pk)
    assert (ticket.team, ticket.assignee) == (l1, agent)
    assert Escalation.objects.get(ticket=ticket).missing_context == "Which browser?"


def test_return_needs_a_reason_in_the_page_too(client, escalated, l2_agent):
    client.force_login(l2_agent)
    response = client.post(f"/casework/tickets/{escalated.pk}/return-escalation/",
                           {"missing": ""}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert b"Say what context is missing" in response.content
    assert Escalation.objects.get(ticket=escalated).returned_at is None

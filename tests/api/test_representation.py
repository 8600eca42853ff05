"""The ticket representation written out for speed (TicketSerializer.to_representation)
says exactly what DRF's walk of the declared fields says, and the API's reads cost a fixed
number of queries whatever the number of tickets, messages or events."""
from __future__ import annotations

import zoneinfo
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework import serializers

from helpdesk import config_cache
from tickets import services
from tickets.models import Category, CustomField, ProductArea, Survey, Ticket
from tickets.serializers import (
    HandoffPacketReadSerializer,
    SatisfactionSerializer,
    TicketSerializer,
    load_for_representation,
)
from tickets.surveys import latest_satisfaction

from ..factories import PACKET, make_ticket

TICKETS = "/api/v1/tickets/"


@pytest.fixture(autouse=True)
def _fresh_config():
    config_cache.clear()
    yield
    config_cache.clear()


def _declared(ticket: Ticket, *, agent: bool) -> dict:
    """What DRF's field-by-field walk of TicketSerializer's declared fields gives."""
    serializer = TicketSerializer(context={"is_agent": agent})
    return serializers.ModelSerializer.to_representation(serializer, ticket)


@pytest.fixture
def full_ticket(agent, l2, customer_a, manager):
    """A ticket with every field the representation shows filled in."""
    ticket = make_ticket(customer_a, subject="Export stuck at 99%", tags=["export", "sso"])
    CustomField.objects.create(key="plan", label="Plan", field_type="text",
                               customer_visible=True)
    CustomField.objects.create(key="internal_note", label="Internal", field_type="text")
    services.escalate(ticket, to_team=l2, packet=PACKET, actor=agent)
    now = timezone.now()
    Ticket.objects.filter(pk=ticket.pk).update(
        category=Category.objects.create(name="Exports (API test)", slug="exports-api-test"),
        product_area=ProductArea.objects.create(name="Reporting (API test)",
                                                slug="reporting-api-test"),
        first_response_at=now - timedelta(hours=2), resolved_at=now - timedelta(hours=1),
        closed_at=now, sla_due_at=now + timedelta(days=1), reopen_count=2,
        merged_into=make_ticket(customer_a, subject="The same export"),
        custom_fields={"plan": "Pro", "internal_note": "VIP", "retired_field": "x"},
    )
    Survey.objects.create(ticket=ticket, resolution=1, requester=customer_a,
                          status="answered", scheduled_for=now, rating=4, nps=9,
                          comment="Quick", responded_at=now - timedelta(minutes=5))
    return ticket


@pytest.mark.parametrize("agent_view", [True, False])
@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_written_out_representation_equals_the_declared_fields(full_ticket, agent_view,
                                                               zone):
    with timezone.override(zoneinfo.ZoneInfo(zone)):
        fast = TicketSerializer(Ticket.objects.get(pk=full_ticket.pk),
                                context={"is_agent": agent_view}).data
        reference = _declared(Ticket.objects.get(pk=full_ticket.pk), agent=agent_view)
    assert fast == reference
    assert list(fast) == list(reference)  # the same order of keys, too
    assert (fast["handoff"] is not None) == agent_view
    assert (fast["satisfaction"] is not None) == agent_view
    assert fast["custom_fields"] == ({"plan": "Pro", "internal_note": "VIP"} if agent_view
                                     else {"plan": "Pro"})
    assert fast["tags"] == ["export", "sso"] and fast["merged_into"] is not None
    if agent_view:  # the two method fields, written out too, against their serializers
        with timezone.override(zoneinfo.ZoneInfo(zone)):
            handoff = HandoffPacketReadSerializer(full_ticket.escalations.first()).data
            answer = SatisfactionSerializer(
                latest_satisfaction([full_ticket.pk])[full_ticket.pk]).data
        assert fast["handoff"] == handoff and list(fast["handoff"]) == list(handoff)
        assert fast["satisfaction"] == answer


def test_a_bare_ticket_is_shown_the_same_too(customer_a):
    ticket = make_ticket(customer_a, subject="Nothing else set")
    Ticket.objects.filter(pk=ticket.pk).update(team=None, assignee=None, organization=None)
    for agent_view in (True, False):
        fast = TicketSerializer(Ticket.objects.get(pk=ticket.pk),
                                context={"is_agent": agent_view}).data
        assert fast == _declared(Ticket.objects.get(pk=ticket.pk), agent=agent_view)
        assert fast["team"] is None and fast["assignee"] is None


def test_a_page_is_loaded_in_a_fixed_number_of_queries(customer_a, customer_b, agent, l2):
    tickets = [make_ticket(customer_a if i % 2 else customer_b, tags=["t"])
               for i in range(6)]
    services.escalate(tickets[0], to_team=l2, packet=PACKET, actor=agent)
    page = list(Ticket.objects.filter(pk__in=[t.pk for t in tickets])
                .select_related("team", "category", "product_area"))
    with CaptureQueriesContext(connection) as ctx:
        load_for_representation(page, agent=True)
    # people with their organizations, tags, latest handoffs, satisfaction
    assert len(ctx.captured_queries) == 4
    TicketSerializer(page[0], context={"is_agent": True}).data  # noqa: B018 - field definitions
    with CaptureQueriesContext(connection) as ctx:
        load_for_representation(page, agent=True)  # already loaded: nothing again
        for ticket in page:
            TicketSerializer(ticket, context={"is_agent": True}).data  # noqa: B018
    assert len(ctx.captured_queries) == 0


# --- query budgets of the API's reads -----------------------------------------------------

def _queries(client, url: str) -> int:
    client.get(url)  # warm: the per-process caches (custom field definitions)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("who", ["manager", "agent", "customer_a"])
def test_list_and_detail_queries_do_not_grow_with_the_data(request, client_for, who,
                                                           customer_a, agent, l2):
    user = request.getfixturevalue(who)
    client = client_for(user)
    first = make_ticket(customer_a, subject="First", tags=["sso"])
    list_few, detail_few = _queries(client, TICKETS), _queries(client, f"{TICKETS}{first.pk}/")
    for i in range(30):  # more than a page, with handoffs, tags and replies
        ticket = make_ticket(customer_a, subject=f"More {i}", tags=["sso", f"t{i}"])
        services.add_reply(ticket, author=agent, body="Looking.", public=True)
        if i % 5 == 0:
            services.escalate(ticket, to_team=l2, packet=PACKET, actor=agent)
    services.add_reply(first, author=agent, body="Looking.", public=True)
    cursor = client.get(f"{TICKETS}?page_size=10").json()["next"]
    # The rows (a customer: and the tickets they are CC'd on), the people with their
    # organizations, the tags, for agents the latest handoffs and satisfaction. (A
    # session adds the query of the signed-in user; these clients carry their user.)
    budgets = {"manager": (5, 5), "agent": (5, 5), "customer_a": (4, 4)}[who]
    assert list_few == _queries(client, TICKETS) == budgets[0]
    assert _queries(client, cursor) == budgets[0]
    assert _queries(client, f"{TICKETS}?open=true&tag=sso") == budgets[0]
    assert detail_few == _queries(client, f"{TICKETS}{first.pk}/") == budgets[1]


@pytest.mark.parametrize("who", ["agent", "customer_a"])
def test_messages_and_events_queries_do_not_grow(request, client_for, who, customer_a,
                                                 agent):
    user = request.getfixturevalue(who)
    client = client_for(user)
    ticket = make_ticket(customer_a, subject="Long thread")
    counts = []
    for n in (1, 30):
        for i in range(n):
            services.add_reply(ticket, author=agent, body=f"Reply {i}", public=True)
        counts.append((_queries(client, f"{TICKETS}{ticket.pk}/messages/"),
                       _queries(client, f"{TICKETS}{ticket.pk}/events/")))
    # the ticket, the messages with their authors, their attachments; the events with
    # their actors (a customer: also the tickets they are CC'd on)
    assert counts[0] == counts[1] == ((3, 2) if who == "agent" else (4, 3))

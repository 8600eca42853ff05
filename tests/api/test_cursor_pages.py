"""Cursor pages of the lists that grow without bound: tickets, messages, events, users.

No count; `next` links walk every row once in the list's order, also across the tickets
without an SLA due time (sorted last) and while tickets are added; `?page=` still gives
numbered pages to clients that ask for them.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tickets import services
from tickets.models import Ticket

from ..factories import make_ticket

TICKETS = "/api/v1/tickets/"


def _walk(client, url: str) -> tuple[list[int], int]:
    ids, pages = [], 0
    while url:
        response = client.get(url)
        assert response.status_code == 200
        body = response.json()
        assert "count" not in body
        ids += [row["id"] for row in body["results"]]
        url, pages = body["next"], pages + 1
    return ids, pages


def _mixed_due_times(customer, n: int = 9) -> list[Ticket]:
    """Tickets with and without an SLA due time, some sharing one (ties)."""
    tickets = [make_ticket(customer, subject=f"T{i}", priority=1 + i % 3) for i in range(n)]
    soon = timezone.now() + timedelta(hours=2)
    for i, ticket in enumerate(tickets):
        due = None if i % 3 == 0 else soon + timedelta(hours=i % 2)
        Ticket.objects.filter(pk=ticket.pk).update(sla_due_at=due)
    return tickets


def _expected(qs) -> list[int]:
    return list(qs.order_by(*Ticket._meta.ordering).values_list("pk", flat=True))


@pytest.mark.parametrize("who", ["manager", "org_admin_a"])
def test_next_links_walk_every_ticket_once_in_urgency_order(client_for, request, customer_a,
                                                            who):
    _mixed_due_times(customer_a)
    client = client_for(request.getfixturevalue(who))
    ids, pages = _walk(client, f"{TICKETS}?page_size=2")
    assert ids == _expected(Ticket.objects.all())
    assert pages == 5


def test_tickets_filed_during_a_walk_neither_repeat_nor_hide_a_ticket(client_for, manager,
                                                                     customer_a):
    before = _mixed_due_times(customer_a, 6)
    client = client_for(manager)
    first = client.get(TICKETS, {"page_size": 3}).json()
    newcomers = [make_ticket(customer_a, subject=f"New {i}") for i in range(3)]
    Ticket.objects.filter(pk__in=[t.pk for t in newcomers]).update(
        sla_due_at=timezone.now() - timedelta(days=1))  # most urgent: before the cursor
    rest, _ = _walk(client, first["next"])
    seen = [row["id"] for row in first["results"]] + rest
    assert len(seen) == len(set(seen))
    assert set(seen) == {t.pk for t in before}


def test_messages_and_users_are_cursor_pages_too(client_for, agent, manager,
                                                 assigned_ticket):
    for i in range(4):
        services.add_reply(assigned_ticket, author=agent, body=f"Update {i}", public=True)
    client = client_for(agent)
    ids, pages = _walk(client, f"{TICKETS}{assigned_ticket.pk}/messages/?page_size=2")
    assert ids == list(assigned_ticket.messages.values_list("pk", flat=True))
    assert pages >= 2
    users, _ = _walk(client_for(manager), "/api/v1/users/?page_size=2")
    from helpdesk.models import User

    assert users == list(User.objects.order_by("username", "pk").values_list("pk", flat=True))


def test_numbered_pages_stay_for_clients_that_ask(client_for, manager, customer_a):
    _mixed_due_times(customer_a, 5)
    body = client_for(manager).get(TICKETS, {"page": 2, "page_size": 2}).json()
    assert body["count"] == 5
    assert [r["id"] for r in body["results"]] == _expected(Ticket.objects.all())[2:4]
    assert "page=3" in body["next"] and "page=1" in body["previous"] or body["previous"]


@pytest.mark.parametrize("cursor", ["%%%", "bm9wZQ", "W10", "WzEsMiwzXQ",
                                    "WyJ4IiwxLCJ5IiwxXQ", "W251bGwsMSwieSIsMV0"])
def test_a_cursor_that_is_not_ours_is_a_400(client_for, manager, cursor):
    response = client_for(manager).get(TICKETS, {"cursor": cursor})
    assert response.status_code == 400
    assert "cursor" in response.json()["errors"]


def test_a_deep_page_costs_the_queries_of_the_first(client_for, manager, customer_a):
    _mixed_due_times(customer_a, 12)
    client = client_for(manager)
    client.get(TICKETS)  # per-user caches warm
    url, counts = f"{TICKETS}?page_size=2", []
    while url:
        with CaptureQueriesContext(connection) as ctx:
            body = client.get(url).json()
        counts.append(len(ctx.captured_queries))
        url = body["next"]
    # The page where the due times give way to the tickets without one asks twice.
    assert max(counts) - min(counts) <= 1
    assert max(counts) <= 14
    assert not any("COUNT(" in q["sql"].upper() for q in ctx.captured_queries)

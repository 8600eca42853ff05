"""The ticket list at a million tickets: a fixed number of queries whatever the rows, and
paging that reaches every ticket even when the count is the planner's (low) estimate."""
from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from helpdesk import paging
from tests.factories import make_ticket

TICKETS = "/api/v1/tickets/"


def _list_queries(client, url: str = TICKETS) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_list_queries_do_not_grow_with_tickets(client_for, customer_a, agent):
    make_ticket(customer_a, subject="First", tags=["sso"])
    client = client_for(agent)
    _list_queries(client)  # the agent's teams are cached after the first request
    few = _list_queries(client)
    for i in range(20):
        make_ticket(customer_a, subject=f"More {i}", tags=["sso"])
    many = _list_queries(client)
    assert many == few <= 14
    assert _list_queries(client, f"{TICKETS}?q=More") <= 14


def test_next_links_reach_every_ticket_past_a_low_estimate(client_for, customer_a, agent,
                                                           monkeypatch):
    for i in range(7):
        make_ticket(customer_a, subject=f"Walk {i}")
    monkeypatch.setattr(paging, "planner_estimate", lambda qs: 3)
    monkeypatch.setattr(paging.count_rows, "__kwdefaults__", {"exact_below": 0})
    client = client_for(agent)
    url, seen, counts = f"{TICKETS}?page_size=3&page=1", [], []  # numbered pages
    while url:
        body = client.get(url).json()
        seen += [t["subject"] for t in body["results"]]
        counts.append(body["count"])
        url = body["next"]
    assert sorted(seen) == [f"Walk {i}" for i in range(7)]
    assert counts[0] == 4 and counts[-1] == 7  # the estimate, corrected on the last page

"""The incremental export (`GET /api/v1/tickets/changes/`): every change to a ticket row,
once, in commit order, from a database trigger, so writes that bypass the services count.

The concurrent-writer proof runs on PostgreSQL: tests/api/test_changes_concurrent.py.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tickets import changes, services
from tickets.models import Priority, Ticket, TicketChange

from ..factories import make_ticket

CHANGES = "/api/v1/tickets/changes/"


def _drain(client, url: str = CHANGES) -> tuple[list[dict], str]:
    """Every change readable now, page after page: (changes, the cursor to resume from)."""
    seen: list[dict] = []
    while True:
        body = client.get(url).json()
        seen += body["changes"]
        if body["end_of_stream"]:
            return seen, body["after_cursor"]
        url = body["next"]


def test_created_updated_merged_and_deleted_tickets_appear_in_change_order(
        client_for, manager, customer_a):
    kept = make_ticket(customer_a, subject="Export button broken")
    duplicate = make_ticket(customer_a, subject="Export still broken")
    services.update_ticket(kept, actor=manager, changes={"priority": Priority.P1})
    services.merge(duplicate, into=kept, actor=manager)
    # A bulk write that sends no signal and calls no service still counts.
    Ticket.objects.filter(pk=kept.pk).update(subject="Export button broken (bulk)")
    doomed = make_ticket(customer_a, subject="Spam")
    Ticket.objects.filter(pk=doomed.pk).delete()

    seen, _ = _drain(client_for(manager), f"{CHANGES}?page_size=2")

    order = [(c["kind"], c["ticket_id"]) for c in seen]
    assert order[0] == ("created", kept.pk)
    assert order.index(("created", duplicate.pk)) < order.index(("merged", duplicate.pk))
    assert order[-1] == ("deleted", doomed.pk)
    merged = [c for c in seen if c["kind"] == "merged"]
    assert [(c["ticket_id"], c["merged_into"]) for c in merged] == [(duplicate.pk, kept.pk)]
    assert merged[0]["ticket"]["merged_into"] == kept.pk
    assert seen[-1]["ticket"] is None  # deleted: nothing left to show
    bulk = [c for c in seen if c["ticket_id"] == kept.pk][-1]
    assert bulk["ticket"]["subject"] == "Export button broken (bulk)"
    assert len(seen) == TicketChange.objects.count()  # each change exactly once


def test_a_sync_loop_resumes_from_its_cursor_without_gaps_or_repeats(
        client_for, manager, customer_a):
    client = client_for(manager)
    first = make_ticket(customer_a, subject="First")
    before, cursor = _drain(client, f"{CHANGES}?page_size=3")
    assert {c["ticket_id"] for c in before} == {first.pk}

    second = make_ticket(customer_a, subject="Second")
    services.update_ticket(first, actor=manager, changes={"priority": Priority.P2})
    after, cursor = _drain(client, f"{CHANGES}?page_size=3&cursor={cursor}")

    assert {c["ticket_id"] for c in after} == {first.pk, second.pk}
    assert len(before) + len(after) == TicketChange.objects.count()
    again, _ = _drain(client, f"{CHANGES}?cursor={cursor}")
    assert again == []


def test_start_now_skips_the_past(client_for, manager, customer_a):
    client = client_for(manager)
    make_ticket(customer_a, subject="Old news")
    body = client.get(CHANGES, {"start": "now"}).json()
    assert body["changes"] == [] and body["end_of_stream"] is True
    fresh = make_ticket(customer_a, subject="Fresh")
    seen, _ = _drain(client, body["next"])
    assert {c["ticket_id"] for c in seen} == {fresh.pk}


def test_only_shown_columns_make_a_change(customer_a):
    ticket = make_ticket(customer_a)
    logged = TicketChange.objects.count()
    ticket.save()  # nothing changed
    Ticket.objects.filter(pk=ticket.pk).update(sla_level="warning", waiting_reason="x")
    assert TicketChange.objects.count() == logged
    Ticket.objects.filter(pk=ticket.pk).update(priority=Priority.P1)
    assert TicketChange.objects.count() == logged + 1


def test_a_new_message_is_a_change(client_for, manager, agent, assigned_ticket):
    _, cursor = _drain(client_for(manager))
    services.add_reply(assigned_ticket, author=agent, body="Looking into it.", public=True)
    seen, _ = _drain(client_for(manager), f"{CHANGES}?cursor={cursor}")
    assert {c["ticket_id"] for c in seen} == {assigned_ticket.pk}


@pytest.mark.parametrize("who", ["agent", "customer_a"])
def test_only_agents_who_see_every_ticket_may_export(client_for, request, who):
    response = client_for(request.getfixturevalue(who)).get(CHANGES)
    assert response.status_code == 403


@pytest.mark.parametrize("cursor", ["nonsense", "W10", "WzEsMl0", "WzEsMiwzLDRd",
                                    "WyJ4IiwxLDFd", "W251bGwsMSwxXQ=="])
def test_a_cursor_that_is_not_ours_is_a_400(client_for, manager, cursor):
    response = client_for(manager).get(CHANGES, {"cursor": cursor})
    assert response.status_code == 400
    assert "cursor" in response.json()["errors"]


def test_a_cursor_older_than_the_retention_is_refused_not_trusted(client_for, manager,
                                                                  customer_a, settings):
    settings.HELPDESK_TICKET_CHANGES_RETENTION_DAYS = 30
    make_ticket(customer_a)
    client = client_for(manager)
    _, cursor = _drain(client)
    with time_machine.travel(timezone.now() + timedelta(days=29)):
        assert client.get(CHANGES, {"cursor": cursor}).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        response = client.get(CHANGES, {"cursor": cursor})
    assert response.status_code == 410
    assert "start=now" in response.json()["detail"]


def test_export_queries_do_not_grow_with_the_page(client_for, manager, customer_a):
    for i in range(12):
        make_ticket(customer_a, subject=f"Ticket {i}", tags=["sso"])
    client = client_for(manager)
    client.get(CHANGES, {"page_size": 1})  # per-user caches warm

    def queries(size: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert len(client.get(CHANGES, {"page_size": size}).json()["changes"]) == size
        return len(ctx.captured_queries)

    assert queries(2) == queries(10) <= 12


def test_retention_prunes_only_old_changes(customer_a):
    old = make_ticket(customer_a, subject="Last year")
    make_ticket(customer_a, subject="Today")
    TicketChange.objects.filter(ticket_id=old.pk).update(
        changed_at=timezone.now() - timedelta(days=40))
    old_rows = TicketChange.objects.filter(ticket_id=old.pk).count()
    total = TicketChange.objects.count()

    assert changes.prune(days=30, batch=1) == old_rows
    assert TicketChange.objects.count() == total - old_rows
    assert not TicketChange.objects.filter(ticket_id=old.pk).exists()

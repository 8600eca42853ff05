"""Clock reactions in batches give every ticket exactly what the one-ticket services give.

The varied open tickets of test_bulk_start (every priority, open status and tier, three
policies, a London calendar over DST and Easter, past waits, first responses given or
not) get their clocks, then the same events twice: once ticket by ticket through
`record_agent_reply` / `on_status_change`, once through `record_agent_replies` /
`on_status_changes` (what an incident update or the bulk bar triggers). The clocks, their
pauses and audit events and the tickets' SLA columns must match field by field.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from sla import services
from tickets.models import Ticket
from tickets.state_machine import Status

from .test_bulk_start import NOW, assert_same, evaluated_at, snapshot, varied_tickets

pytestmark = pytest.mark.django_db

LATER = NOW + timedelta(hours=2, minutes=13)


@pytest.fixture
def clocked(standard) -> list[int]:
    ids = varied_tickets(standard)
    services.start_clocks_in_bulk(ids, at=evaluated_at, reason="imported")
    return ids


def both_ways(ids: list[int], single: Callable[[], object],
              batch: Callable[[], object]) -> tuple[dict, dict]:
    """Run `single`, snapshot, roll back, run `batch`, snapshot."""
    before = snapshot(ids)
    point = transaction.savepoint()
    single()
    expected = snapshot(ids)
    transaction.savepoint_rollback(point)
    assert snapshot(ids) == before
    batch()
    return expected, snapshot(ids)


def test_agent_replies_in_a_batch_move_the_clocks_as_one_by_one(clocked):
    ids = clocked
    tickets = list(Ticket.objects.filter(pk__in=ids).select_related("organization"))

    def single() -> None:
        for ticket in tickets:
            services.record_agent_reply(ticket, at=LATER, actor=None)

    expected, got = both_ways(ids, single, lambda: services.record_agent_replies(
        [services.AgentReply(pk, LATER, None) for pk in ids]))
    # Meaningful: replies met first responses, restarted cadences and left waits alone.
    kinds = {e[1] for e in expected["events"]}
    assert {"met", "started"} <= kinds
    assert len(expected["events"]) > len(snapshot([])["events"]) + 50
    assert_same(expected, got)


def _moves() -> list[tuple[str, str]]:
    """(before, after) per ticket, cycling through what the bulk bar and an incident's
    resolution do: resolve, close, wait on either side, resume, reopen."""
    return [(Status.IN_PROGRESS, Status.RESOLVED), (Status.IN_PROGRESS, Status.CLOSED),
            (Status.IN_PROGRESS, Status.WAITING_ON_CUSTOMER),
            (Status.ASSIGNED, Status.WAITING_ON_THIRD_PARTY),
            (Status.WAITING_ON_CUSTOMER, Status.IN_PROGRESS),
            (Status.RESOLVED, Status.IN_PROGRESS)]


def test_status_changes_in_a_batch_move_the_clocks_as_one_by_one(clocked):
    ids = clocked
    moves = {pk: _moves()[i % len(_moves())] for i, pk in enumerate(ids)}
    reopened = [pk for pk in ids if moves[pk][0] == Status.RESOLVED]
    for ticket in Ticket.objects.filter(pk__in=reopened).select_related("organization"):
        ticket.status = Status.RESOLVED
        ticket.save()
        services.on_status_change(ticket, Status.IN_PROGRESS, Status.RESOLVED,
                                  at=NOW + timedelta(minutes=5), actor=None)
    for pk, (_, after) in moves.items():
        Ticket.objects.filter(pk=pk).update(
            status=after, waiting_reason="Carrier" if after == Status.WAITING_ON_THIRD_PARTY
            else "")
    tickets = list(Ticket.objects.filter(pk__in=ids).select_related("organization"))

    def single() -> None:
        for ticket in tickets:
            before, after = moves[ticket.pk]
            services.on_status_change(ticket, before, after, at=LATER, actor=None)

    expected, got = both_ways(ids, single, lambda: services.on_status_changes(
        [services.StatusMove(pk, LATER, None, *moves[pk]) for pk in ids]))
    kinds = {e[1] for e in expected["events"]}
    assert {"met", "stopped", "paused", "resumed", "started"} <= kinds
    assert_same(expected, got)


def test_a_batch_costs_the_same_queries_for_ten_or_fifty_tickets(clocked):
    ids = clocked

    def queries(batch: list[int]) -> int:
        with CaptureQueriesContext(connection) as ctx:
            services.record_agent_replies([services.AgentReply(pk, LATER, None)
                                           for pk in batch])
        return len(ctx.captured_queries)

    # Level lists are read once per policy and batch; both batches meet every policy.
    assert queries(ids[:12]) == queries(ids[12:72])

"""An agent's public reply reads only the clocks it can move, and moves them as before.

Issue 21: `record_agent_reply` locks the ticket's unfinished clocks and its latest
periodic-update cycle, not every cycle of its history (a long conversation piles up one
or two finished clocks per exchange). The varied tickets of test_bulk_start get a long
history of exchanges first (agent update, customer answer, some waits and a priority
change on the way); then the same reply runs through the one-ticket service (the
current clocks only: from a ticket in hand and from an id) and through the batch
service, which reads every clock of the ticket. Clocks, pauses, events and the tickets'
SLA columns must match field by field.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from sla import services
from sla.models import Clock, Metric
from sla.services.work import ClockWork
from tickets.models import Ticket
from tickets.state_machine import Status

from .test_batched import both_ways
from .test_bulk_start import NOW, assert_same, evaluated_at, varied_tickets

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)
ROUNDS = 4
FINAL = NOW + (2 * ROUNDS + 3) * H


@pytest.fixture
def with_history(standard) -> list[int]:
    """Clocked varied tickets after ROUNDS exchanges: each a customer answer an hour
    after an agent update, so next-response and periodic cycles finish one after the
    other; a third wait on a customer for a while, a tenth change priority."""
    ids = varied_tickets(standard)
    services.start_clocks_in_bulk(ids, at=evaluated_at, reason="imported")
    for n in range(ROUNDS):
        at = NOW + (2 * n + 1) * H
        Ticket.objects.filter(pk__in=ids, first_response_at__isnull=True).update(
            first_response_at=at)
        for ticket in Ticket.objects.filter(pk__in=ids).select_related("organization"):
            services.record_agent_reply(ticket.pk, at=at, actor=None)
            services.record_customer_reply(ticket.pk, at=at + H, actor=None)
    for i, ticket in enumerate(Ticket.objects.filter(pk__in=ids).select_related(
            "organization").order_by("pk")):
        if i % 3 == 0 and ticket.status not in (Status.WAITING_ON_CUSTOMER,
                                                Status.WAITING_ON_THIRD_PARTY):
            before = ticket.status
            Ticket.objects.filter(pk=ticket.pk).update(status=Status.WAITING_ON_CUSTOMER)
            services.on_status_change(ticket.pk, before, Status.WAITING_ON_CUSTOMER,
                                      at=FINAL - 2 * H, actor=None)
            Ticket.objects.filter(pk=ticket.pk).update(status=before)
            services.on_status_change(ticket.pk, Status.WAITING_ON_CUSTOMER, before,
                                      at=FINAL - H, actor=None)
        elif i % 10 == 1:
            ticket.priority = 5 if ticket.priority != 5 else 1
            ticket.save(update_fields=["priority"])
            services.reevaluate(ticket, at=FINAL - H, actor=None, reason="priority changed")
    return ids


def test_the_history_is_long_and_the_reply_reads_only_its_current_part(with_history):
    ids = with_history
    finished = Clock.objects.filter(ticket_id__in=ids, completed_at__isnull=False)
    assert finished.filter(metric=Metric.NEXT_RESPONSE).count() >= len(ids) * (ROUNDS - 2)
    ticket = (Ticket.objects.filter(pk__in=ids, sla_clocks__metric=Metric.PERIODIC_UPDATE)
              .select_related("organization").first())
    every = list(Clock.objects.filter(ticket=ticket))
    with transaction.atomic():
        read = ClockWork(ticket.pk, at=FINAL, actor=None, ticket=ticket, current=True).clocks
    latest = max((c for c in every if c.metric == Metric.PERIODIC_UPDATE),
                 key=lambda c: c.cycle)
    assert {c.pk for c in read} == {c.pk for c in every
                                    if c.completed_at is None or c.pk == latest.pk}
    assert len(read) < len(every) / 2
    # The rows come with the ticket in hand and their policy and calendar: no query more.
    with CaptureQueriesContext(connection) as ctx:
        assert all(clock.ticket is ticket for clock in read)
        names = [(c.policy.name, c.calendar.timezone if c.calendar_id else None)
                 for c in read]
    assert not ctx.captured_queries and all(name for name, _ in names)


@pytest.mark.parametrize("given", ["ticket", "id"])
def test_a_reply_on_a_long_history_moves_the_clocks_as_reading_them_all(with_history, given):
    ids = with_history
    tickets = list(Ticket.objects.filter(pk__in=ids).select_related("organization"))

    def single() -> None:
        for ticket in tickets:
            services.record_agent_reply(ticket if given == "ticket" else ticket.pk,
                                        at=FINAL, actor=None)

    # The batch service reads every clock of each ticket (`sla.services.batched`).
    expected, got = both_ways(ids, single, lambda: services.record_agent_replies(
        [services.AgentReply(pk, FINAL, None) for pk in ids]))
    final = [e for e in expected["events"] if e[2] == FINAL]
    assert {"met", "started"} <= {e[1] for e in final}
    assert_same(expected, got)


def test_a_second_run_of_the_same_reply_changes_nothing(with_history):
    ids = with_history
    for pk in ids:
        services.record_agent_reply(pk, at=FINAL, actor=None)
    counts = (Clock.objects.filter(ticket_id__in=ids).count(),
              list(Clock.objects.filter(ticket_id__in=ids).order_by("pk").values_list(
                  "state", "completed_at", "due_at")))
    for ticket in Ticket.objects.filter(pk__in=ids).select_related("organization"):
        services.record_agent_reply(ticket, at=FINAL, actor=None)
    assert (Clock.objects.filter(ticket_id__in=ids).count(),
            list(Clock.objects.filter(ticket_id__in=ids).order_by("pk").values_list(
                "state", "completed_at", "due_at"))) == counts

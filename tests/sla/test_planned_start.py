"""Issue 21: a new ticket's clocks are planned before its INSERT (sla.services.plan_clocks),
so the INSERT carries `sla_due_at` and the reaction reads and locks nothing. The planned
start must be the start `start_clocks` makes from the row: each case is filed twice at the
same instant, once planned and once with the plan switched off, and the rows compared.

Committed transactions (the in-request handlers run inside the write's own transaction
only at the outermost level, as in production).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from helpdesk.models import SupportTier
from helpdesk.roles import Role
from sla import services as sla_services
from sla.models import Clock, ClockEvent, Override, Policy
from tests.factories import make_org, make_user
from tickets import events, services
from tickets.models import Channel, Tag, Ticket, Trigger

pytestmark = pytest.mark.django_db(transaction=True)

MONDAY = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
CLOCK_FIELDS = (
    "metric",
    "cycle",
    "policy_id",
    "calendar_id",
    "target",
    "internal_target",
    "state",
    "started_at",
    "due_at",
    "internal_due_at",
    "next_level_at",
    "next_level_percent",
    "breached_at",
    "completed_at",
)


@pytest.fixture
def frozen() -> Iterator[None]:
    with time_machine.travel(MONDAY, tick=False):
        yield


def rows(ticket: Ticket) -> tuple:
    """What the SLA reaction wrote for the ticket, without ids."""
    ticket = Ticket.objects.get(pk=ticket.pk)
    clocks = [
        tuple(getattr(c, f) for f in CLOCK_FIELDS)
        for c in Clock.objects.filter(ticket=ticket).order_by("metric", "cycle")
    ]
    clock_events = [
        (e.clock.metric, e.kind, e.at, e.reason, e.data)
        for e in ClockEvent.objects.filter(ticket=ticket)
        .select_related("clock")
        .order_by("clock__metric", "pk")
    ]
    return ticket.sla_due_at, ticket.sla_level, clocks, clock_events


def file(**kwargs) -> tuple[Ticket, list[str]]:
    """File a ticket; the write's statements (its deferred reactions queued, not run)."""
    kwargs.setdefault("subject", "Export stops at 10k rows")
    kwargs.setdefault("description", "Since this morning the CSV export is cut.")
    with (
        mock.patch("tickets.tasks.handle_pending_events.delay"),
        CaptureQueriesContext(connection) as queries,
    ):
        ticket = services.create_ticket(**kwargs)
    return ticket, [q["sql"] for q in queries]


def file_unplanned(**kwargs) -> Ticket:
    events.unregister_before_insert(sla_services.plan_clocks)
    try:
        return file(**kwargs)[0]
    finally:
        events.register_before_insert(sla_services.plan_clocks)


def ticket_updates(statements: list[str]) -> list[str]:
    return [s for s in statements if s.startswith('UPDATE "tickets_ticket"')]


def clock_reads(statements: list[str]) -> list[str]:
    return [s for s in statements if s.startswith("SELECT") and 'FROM "sla_clock"' in s]


def test_planned_clocks_are_the_clocks_started_from_the_row(frozen):
    enterprise = make_user(Role.CUSTOMER, org=make_org(tier=SupportTier.ENTERPRISE))
    business = make_user(Role.CUSTOMER, org=make_org(tier=SupportTier.BUSINESS))
    loner = make_user(Role.CUSTOMER)
    agent = make_user(Role.AGENT)
    # A factor override in force now, for P2: the plan must see it as the row's start does.
    Override.objects.create(
        name="Launch week",
        reason="volume",
        starts_at=MONDAY - timedelta(days=1),
        ends_at=MONDAY + timedelta(days=1),
        priorities=[2],
        factor=Decimal("1.5"),
    )
    cases = [
        {"requester": enterprise, "actor": enterprise},
        {"requester": business, "actor": business, "channel": Channel.API},
        {"requester": loner, "actor": loner},
        {"requester": business, "actor": agent, "priority": 1, "channel": Channel.PHONE},
        {"requester": enterprise, "actor": agent, "priority": 2},
        {"requester": business, "actor": agent, "priority": 5},
    ]
    for case in cases:
        planned, statements = file(**case)
        unplanned = file_unplanned(**case)
        assert rows(planned) == rows(unplanned), case
        assert Clock.objects.filter(ticket=planned).exists()
        # The due time went in with the INSERT; the reaction read and locked no clock.
        assert ticket_updates(statements) == [] and clock_reads(statements) == []
        # The object handed back is the row as committed (the API answers from it).
        assert events.is_as_written(planned)
        fresh = Ticket.objects.get(pk=planned.pk)
        assert (planned.sla_due_at, planned.sla_level, planned.updated_at) == (
            fresh.sla_due_at,
            fresh.sla_level,
            fresh.updated_at,
        )


def test_no_matching_policy_plans_no_clock(frozen):
    customer = make_user(Role.CUSTOMER, org=make_org())
    Policy.objects.update(is_active=False)
    ticket, statements = file(requester=customer, actor=customer)
    assert not Clock.objects.filter(ticket=ticket).exists()
    assert Ticket.objects.get(pk=ticket.pk).sla_due_at is None
    assert ticket_updates(statements) == [] and clock_reads(statements) == []


def test_a_policy_on_tags_starts_from_the_row_with_the_tags_added_after_the_insert(frozen):
    customer = make_user(Role.CUSTOMER, org=make_org())
    agent = make_user(Role.AGENT)
    Policy.objects.update(order=10)
    vip = Policy.objects.create(name="VIP", order=0, is_active=True)
    vip.tags.add(Tag.objects.create(name="vip"))
    vip.targets.create(priority=3, metric="first_response", contractual=timedelta(minutes=20))
    ticket, _ = file(requester=customer, actor=agent, tags=["vip"])
    clock = Clock.objects.get(ticket=ticket)
    assert (clock.policy_id, clock.metric, clock.due_at) == (
        vip.pk,
        "first_response",
        MONDAY + timedelta(minutes=20),
    )
    assert Ticket.objects.get(pk=ticket.pk).sla_due_at == clock.due_at
    other, _ = file(requester=customer, actor=agent)
    assert Clock.objects.filter(ticket=other).exclude(policy=vip).exists()


def test_a_creation_trigger_acting_after_the_insert_gets_clocks_for_what_it_changed(frozen):
    customer = make_user(Role.CUSTOMER, org=make_org())
    # add_note waits for the insert: the object no longer is the whole story of the write,
    # so the clocks are started from the row (read back), with the rule's priority.
    Trigger.objects.create(
        name="Outage",
        order=1,
        events=["created"],
        conditions=[{"field": "text", "op": "contains", "value": "outage"}],
        actions=[
            {"action": "set_priority", "value": 1},
            {"action": "add_note", "value": "Paged the on-call."},
        ],
    )
    ticket, _ = file(requester=customer, actor=customer, subject="Total outage")
    agent = make_user(Role.AGENT)
    p1 = file_unplanned(requester=customer, actor=agent, priority=1, subject="Other")
    assert Ticket.objects.get(pk=ticket.pk).priority == 1
    assert rows(ticket)[:3] == rows(p1)[:3]
    assert not events.is_as_written(ticket)


def test_a_caller_changing_the_ticket_in_the_same_write_gets_clocks_for_its_change(frozen):
    customer = make_user(Role.CUSTOMER, org=make_org())
    agent = make_user(Role.AGENT)
    with events.atomic():
        ticket = services.create_ticket(
            requester=customer, actor=agent, subject="A", description="B", priority=4
        )
        services.update_ticket(ticket, actor=agent, changes={"priority": 1})
    p1 = file_unplanned(requester=customer, actor=agent, priority=1)
    assert rows(ticket)[:3] == rows(p1)[:3]

"""The queue's bulk bar and many-ticket replies, written set-wise, do exactly what the
one-ticket services do for each ticket.

`tickets.batch.bulk_update` is compared with the one-ticket path it replaced (for each
ticket, in its own savepoint: `update_ticket` for the assignee, then `transition`): the
same tickets changed or refused with the same words, the same audit events, ticket
columns and domain events. Its queries do not grow with the number of tickets.
"""
from __future__ import annotations

from collections.abc import Callable
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from helpdesk.roles import Role
from tests.factories import make_ticket, make_user, team
from tickets import batch, events, services
from tickets.models import Ticket, TicketEvent
from tickets.state_machine import Status, TransitionError

pytestmark = pytest.mark.django_db

# Every open status, and the ones a bulk change must refuse from.
STATUSES = [Status.NEW, Status.TRIAGED, Status.ASSIGNED, Status.IN_PROGRESS,
            Status.WAITING_ON_CUSTOMER, Status.WAITING_ON_THIRD_PARTY, Status.ESCALATED,
            Status.ENGINEERING, Status.RESOLVED, Status.CLOSED]
TICKET_COLUMNS = ["status", "assignee_id", "status_changed_at", "updated_at", "waiting_reason",
                  "resolved_at", "closed_at", "reopen_count"]


@pytest.fixture
def desk(customer_a):
    l1 = team("l1-general")
    agent = make_user(Role.AGENT, teams=(l1,))
    other = make_user(Role.AGENT, teams=(l1,))
    ids = []
    for i, status in enumerate(STATUSES * 2):
        ticket = make_ticket(customer_a, subject=f"Case {i}")
        assignee = (None if status in (Status.NEW, Status.TRIAGED) or i % 3 == 0
                    else other)
        Ticket.objects.filter(pk=ticket.pk).update(status=status, assignee=assignee,
                                                   team=l1)
        ids.append(ticket.pk)
    return agent, other, ids


def one_by_one(ids: list[int], *, actor, assignee=None, unassign=False, status="",
               reason="") -> batch.BulkResult:
    """The bulk bar as it was: the one-ticket services, ticket by ticket."""
    result = batch.BulkResult()
    for ticket in Ticket.objects.filter(pk__in=ids).order_by("pk"):
        try:
            with transaction.atomic():
                if assignee is not None or unassign:
                    ticket = services.update_ticket(ticket, actor=actor,
                                                    changes={"assignee": assignee})
                if status and status != ticket.status:
                    services.transition(ticket, status, actor=actor, reason=reason)
            result.changed.append(ticket.pk)
        except (TransitionError, ValidationError) as exc:
            result.refused[ticket.pk] = ("; ".join(exc.messages)
                                         if isinstance(exc, ValidationError) else str(exc))
    return result


def written(ids: list[int], emitted: list) -> dict:
    """What a bulk change left, without row ids and instants that differ by a few µs."""
    rows = [(e.ticket_id, e.actor_id, e.kind, e.field, e.before, e.after, e.note, e.is_public)
            for e in TicketEvent.objects.filter(ticket_id__in=ids).order_by("ticket_id", "pk")]
    tickets = {t["id"]: {c: t[c] is not None if c.endswith("_at") else t[c]
                         for c in TICKET_COLUMNS}
               for t in Ticket.objects.filter(pk__in=ids).values("id", *TICKET_COLUMNS)}
    domain = [(type(e).__name__, e.ticket_id, e.actor_id,
               *(getattr(e, f) for f in ("before", "after", "assignee_id", "team_id",
                                         "before_id", "after_id") if hasattr(e, f)))
              for e in emitted]
    return {"events": rows, "tickets": tickets, "domain": domain}


def both_ways(ids: list[int], **change) -> tuple[tuple, tuple]:
    def run(fn: Callable) -> tuple:
        emitted: list = []
        point = transaction.savepoint()
        with mock.patch.object(events, "emit", emitted.append), \
                mock.patch.object(events, "emit_many", emitted.extend):
            result = fn(ids, **change)
        out = (result.changed, result.refused, written(ids, emitted))
        transaction.savepoint_rollback(point)
        return out

    return run(one_by_one), run(batch.bulk_update)


@pytest.mark.parametrize("change", [
    {"assignee": "agent"},
    {"unassign": True},
    {"status": Status.WAITING_ON_THIRD_PARTY, "reason": "Waiting for the carrier"},
    {"status": Status.WAITING_ON_CUSTOMER},  # reason required: refused from every status
    {"status": Status.RESOLVED},
    {"status": Status.IN_PROGRESS},  # reopens resolved ones only with a reason
    {"status": Status.CLOSED, "reason": "Duplicate of the outage"},
    {"status": Status.TRIAGED, "reason": "Back to the queue"},
])
def test_bulk_change_writes_what_one_by_one_writes(desk, change):
    agent, _, ids = desk
    change = {**change, "actor": agent}
    if change.get("assignee") == "agent":
        change["assignee"] = agent
    expected, got = both_ways(ids, **change)
    assert got == expected
    changed, refused, _ = expected
    assert changed  # every case changes some tickets...
    if "status" in change:
        assert refused  # ...and every status refuses others, each with its own reason


def test_refused_ticket_keeps_nothing_of_a_bulk_change(desk):
    """Assigned, then refused the status (no reason): the assignment is not kept either."""
    agent, other, ids = desk
    ticket = Ticket.objects.filter(pk__in=ids, status=Status.IN_PROGRESS,
                                   assignee=other).first()
    before = TicketEvent.objects.filter(ticket=ticket).count()
    result = batch.bulk_update([ticket.pk], actor=agent, assignee=agent,
                               status=Status.WAITING_ON_CUSTOMER)
    assert result.changed == [] and "provide: reason" in result.refused[ticket.pk]
    ticket.refresh_from_db()
    assert (ticket.assignee, ticket.status) == (other, Status.IN_PROGRESS)
    assert TicketEvent.objects.filter(ticket=ticket).count() == before


def test_bulk_change_costs_the_same_queries_for_ten_or_fifty_tickets(
        customer_a, django_capture_on_commit_callbacks):
    l1 = team("l1-general")
    agent = make_user(Role.AGENT, teams=(l1,))
    ids = [make_ticket(customer_a, subject=f"Case {i}").pk for i in range(62)]
    Ticket.objects.filter(pk__in=ids).update(status=Status.IN_PROGRESS, team=l1)

    def queries(some: list[int], **change) -> int:
        with CaptureQueriesContext(connection) as ctx, \
                django_capture_on_commit_callbacks(execute=True):
            result = batch.bulk_update(some, actor=agent, **change)
        assert len(result.changed) == len(some)
        return len(ctx.captured_queries)

    # Warm the per-process caches (configuration, webhook subscriptions) first, so the
    # comparison sees only what grows with the tickets.
    queries(ids[60:62], assignee=agent)
    queries(ids[60:62], status=Status.WAITING_ON_THIRD_PARTY, reason="Carrier")

    # With everything that reacts after commit (SLA clocks, staff notices, e-mails).
    assert queries(ids[:10], assignee=agent) == queries(ids[10:60], assignee=agent)
    assert queries(ids[:10], status=Status.WAITING_ON_THIRD_PARTY, reason="Carrier") == \
        queries(ids[10:60], status=Status.WAITING_ON_THIRD_PARTY, reason="Carrier")


# --- events dispatched together -------------------------------------------------------

@pytest.fixture
def log():
    """Two handlers on each of two event types; the first has a batch form."""
    calls: list = []
    single = {t: (lambda e, t=t: calls.append(("one", t.__name__, e.ticket_id)))
              for t in (events.Assigned, events.StatusChanged)}
    many = {t: (lambda group, t=t: calls.append(
        ("many", t.__name__, tuple(e.ticket_id for e in group))))
        for t in (events.Assigned, events.StatusChanged)}
    plain = lambda e: calls.append(("plain", type(e).__name__, e.ticket_id))  # noqa: E731
    saved = {t: list(events._handlers[t]) for t in single}
    for t in single:
        events._handlers[t] = []
        events.subscribe(t, single[t], many=many[t])
        events.subscribe(t, plain)
    yield calls, many
    for t in single:
        events.unsubscribe(t, single[t])
        events._handlers[t] = saved[t]


def _assigned(pk: int) -> events.Assigned:
    return events.Assigned(pk, None, timezone.now(), None, None)


def _moved(pk: int) -> events.StatusChanged:
    return events.StatusChanged(pk, None, timezone.now(), "new", "triaged")


def test_events_dispatched_together_reach_batch_forms_once_and_keep_each_tickets_order(log):
    calls, _ = log
    # Ticket 1 only moves; tickets 2 and 3 are assigned, then move.
    events.dispatch_many([_moved(1), _assigned(2), _moved(2), _assigned(3), _moved(3)])
    assert calls == [
        ("one", "StatusChanged", 1),  # alone in its group: the handler itself
        ("plain", "StatusChanged", 1),
        ("many", "Assigned", (2, 3)), ("plain", "Assigned", 2), ("plain", "Assigned", 3),
        ("many", "StatusChanged", (2, 3)), ("plain", "StatusChanged", 2),
        ("plain", "StatusChanged", 3),
    ]


def test_failing_batch_form_falls_back_to_the_handler_event_by_event(log):
    calls, many = log

    def broken(group):
        raise RuntimeError("one bad ticket")

    events._batch_forms[(events.Assigned, events._handlers[events.Assigned][0])] = broken
    events.dispatch_many([_assigned(4), _assigned(5)])
    assert calls == [("one", "Assigned", 4), ("one", "Assigned", 5),
                     ("plain", "Assigned", 4), ("plain", "Assigned", 5)]


def test_bulk_assignment_queues_its_e_mails_in_batches(
        customer_a, django_capture_on_commit_callbacks):
    """The new assignee hears of each ticket (one notification each, e-mailed), but the
    request hands the broker one message per hundred e-mails, not one per e-mail."""
    from helpdesk.models import Notification

    l1 = team("l1-general")
    lead = make_user(Role.TEAM_LEAD, teams=(l1,))
    agent = make_user(Role.AGENT, teams=(l1,))
    ids = [make_ticket(customer_a, subject=f"Case {i}").pk for i in range(3)]
    Ticket.objects.filter(pk__in=ids).update(status=Status.IN_PROGRESS, assignee=None)
    with mock.patch("helpdesk.tasks.send_notification_emails.delay") as batches, \
            mock.patch("helpdesk.tasks.send_notification_email.delay") as single, \
            django_capture_on_commit_callbacks(execute=True):
        batch.bulk_update(ids, actor=lead, assignee=agent)
    notes = Notification.objects.filter(recipient=agent, source="staff.assigned")
    assert notes.count() == 3
    assert [sorted(c.args[0]) for c in batches.call_args_list] == [
        sorted(notes.values_list("pk", flat=True))]
    assert not single.called

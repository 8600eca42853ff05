"""Resolution: the message goes to every linked ticket, the tickets move through the
state machine, and tickets that cannot move are recorded and skipped."""
from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from incidents import services, tasks
from incidents.models import IncidentTicket, PublicUpdate, Status
from tests.factories import make_ticket
from tickets import services as ticket_services
from tickets.models import EventKind, Message, TicketEvent

from .conftest import close, unassign


@pytest.fixture
def mixed(clock, customer_a, agent):
    """A ticket in the queue (triaged), one in progress, one closed."""
    new = unassign(make_ticket(customer_a, subject="A"), agent)
    working = make_ticket(customer_a, subject="B")
    working.refresh_from_db()
    if working.status == "assigned":
        ticket_services.transition(working, "in_progress", actor=agent)
    else:
        ticket_services.transition(working, "in_progress", actor=agent, assignee=agent)
    closed = close(make_ticket(customer_a, subject="C"), agent)
    return new, working, closed


def status_of(t):
    t.refresh_from_db()
    return t.status


def test_resolution_moves_linked_tickets_to_resolved(declare, run, lead, mixed):
    new, working, closed = mixed
    incident = declare(tickets=mixed)
    update = run(services.resolve, incident, body="Fixed by the rollback.", actor=lead)
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED and incident.resolved_at is not None
    assert [status_of(t) for t in mixed] == ["resolved", "resolved", "closed"]
    for t in (new, working):
        assert Message.objects.filter(ticket=t, body__contains="Fixed by the rollback").count() == 1
        t.refresh_from_db()
        assert t.resolved_at is not None
    links = {link.ticket_id: link for link in IncidentTicket.objects.filter(incident=incident)}
    assert links[closed.pk].cascade_outcome == "skipped"
    assert links[closed.pk].cascade_note == "already closed"
    assert links[new.pk].cascade_outcome == "moved"
    assert update.kind == "resolution"
    assert "2 tickets moved, 1 skipped" in incident.timeline.last().body


def test_waiting_on_customer_records_tickets_that_cannot_wait(declare, run, lead, mixed):
    new, working, closed = mixed
    incident = declare(tickets=mixed)
    run(services.resolve, incident, body="Please confirm it works.", actor=lead,
        ticket_status="waiting_on_customer")
    assert [status_of(t) for t in mixed] == ["triaged", "waiting_on_customer", "closed"]
    note = IncidentTicket.objects.get(incident=incident, ticket=new).cascade_note
    assert "cannot go from Triaged to Waiting on customer" in note
    working.refresh_from_db()
    assert working.waiting_reason == f"{incident.reference} resolved"


def test_cascade_twice_changes_each_ticket_once(declare, run, lead, mixed):
    incident = declare(tickets=mixed)
    update = run(services.resolve, incident, body="Fixed by the rollback.", actor=lead)
    tasks.resolve_cascade(incident.pk, update.pk)
    new = mixed[0]
    assert TicketEvent.objects.filter(ticket=new, kind=EventKind.STATUS,
                                      after="resolved").count() == 1
    assert Message.objects.filter(ticket=new, body__contains="Fixed by the rollback").count() == 1


def test_interrupted_cascade_resumes(declare, lead, clock, customer_a):
    many = [make_ticket(customer_a, subject=f"T{n}") for n in range(5)]
    incident = declare(tickets=many)
    services.resolve(incident, body="Fixed.", actor=lead)  # after-commit task not run
    assert services.cascade_chunk(incident.pk, limit=2) == 2
    assert [status_of(t) for t in many].count("resolved") == 2
    services.cascade(incident.pk, chunk=2)
    assert [status_of(t) for t in many] == ["resolved"] * 5
    assert TicketEvent.objects.filter(ticket__in=many, after="resolved").count() == 5


def test_resolving_twice_is_refused(declare, run, lead):
    incident = declare()
    run(services.resolve, incident, body="Fixed.", actor=lead)
    with pytest.raises(ValidationError):
        services.resolve(incident, body="Again.", actor=lead)
    assert PublicUpdate.objects.filter(incident=incident).count() == 1


def test_sla_clocks_follow_the_normal_rules(declare, run, lead, clock, customer_a):
    """The SLA app reacts to the status change: a resolved ticket has no running clock."""
    from sla.models import Clock

    new = run(make_ticket, customer_a, subject="Clocked")
    incident = declare(tickets=[new])
    running = Clock.objects.filter(ticket=new, completed_at__isnull=True).count()
    run(services.resolve, incident, body="Fixed.", actor=lead)
    assert running > 0
    assert Clock.objects.filter(ticket=new, completed_at__isnull=True,
                                state="running").count() == 0


def test_a_cascade_chunk_costs_the_same_queries_for_ten_or_fifty_tickets(
        declare, run, lead, clock, customer_a, django_capture_on_commit_callbacks):
    """Tickets are moved set-wise: a chunk's queries, with the SLA clocks, surveys and
    the customers' (suppressed) status e-mails after commit, do not grow with it."""
    from unittest import mock

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tickets.models import Survey

    def queries(n: int) -> int:
        many = [run(make_ticket, customer_a, subject=f"Down {i}") for i in range(n)]
        incident = declare(tickets=many, title=f"Outage of {n}")
        with mock.patch.object(tasks.resolve_cascade, "delay"):  # the job runs below
            update = run(services.resolve, incident, body="Fixed.", actor=lead)
        run(services.fan_out, update.pk)  # the message first, as the job does
        with CaptureQueriesContext(connection) as ctx, \
                django_capture_on_commit_callbacks(execute=True):
            assert services.cascade_chunk(incident.pk, limit=100) == n
        assert [status_of(t) for t in many] == ["resolved"] * n
        assert Survey.objects.filter(ticket__in=many).count() == n
        return len(ctx.captured_queries)

    assert queries(10) == queries(50)

"""Issue 21: the query budgets of the single-ticket writes, through the real views.

Counted as `manage.py bench` counts them (every statement, BEGIN and COMMIT included), on
committed transactions (the SLA reaction runs inside the write's own transaction, as in
production), with warm per-process caches, and with the deferred reactions queued (their
Celery task mocked) rather than run: the request does not wait for them. Each test then
runs the queued reactions and checks they did their work.
"""
from __future__ import annotations

from unittest import mock

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.dateparse import parse_datetime

from helpdesk.roles import Role
from mailgate.models import OutboundEmail
from sla.models import Clock, ClockState, Metric
from tests.factories import make_org, make_ticket, make_user, team
from tickets import events, services
from tickets.models import Message, PendingEvents, Ticket, TicketEvent

pytestmark = pytest.mark.django_db(transaction=True)

# Pinned at what the writes take (issue 21's ceilings: create 20, reply and note 15), so
# a query more is a decision, not a drift. Reply: user, BEGIN, ticket FOR UPDATE (with its
# organization: the SLA reaction uses this instance), message, audit event, the running
# clocks and latest periodic cycle FOR UPDATE, the clock writes (on PostgreSQL one
# statement: changed clocks, the next cycle's clock, clock events; elsewhere three),
# outbox row, ticket row, COMMIT; the htmx answer appends the new message, whose
# attachments the write kept. A note: the same without the SLA reaction.
# Create: user, BEGIN, the available members (locked), their round-robin stamp,
# ticket (with its SLA due time), audit events, clocks, clock events, outbox row, COMMIT.
# The portal's is the same; the agent page adds the requester and the visibility
# check of its redirect.
CREATE_BUDGET = 10
PORTAL_CREATE_BUDGET = 10
AGENT_CREATE_BUDGET = 14
REPLY_BUDGET = 10 if connection.vendor == "postgresql" else 12
NOTE_BUDGET = 8
HTMX = {"HTTP_HX_REQUEST": "true"}


def counted(request) -> tuple[object, int, list[int]]:
    """The response, its query count and the outbox rows it queued for a worker."""
    with mock.patch("tickets.tasks.handle_pending_events.delay") as queued, \
            CaptureQueriesContext(connection) as queries:
        response = request()
    return response, len(queries), [c.args[0] for c in queued.call_args_list]


def run_reactions(pending_ids: list[int]) -> None:
    for pk in pending_ids:
        assert events.handle_pending(pk)
    assert not PendingEvents.objects.filter(pk__in=pending_ids).exists()


@pytest.fixture
def desk():
    """An enterprise customer, an available agent in the default team (so a new ticket
    is routed and assigned), and a warm process (permissions, configuration caches)."""
    agent = make_user(Role.AGENT, teams=(team("l1-general"),))
    customer = make_user(Role.CUSTOMER, org=make_org(), email="dana@example.com")
    warm = make_ticket(customer, subject="Warm-up")
    api, web = Client(), Client()
    api.force_login(customer)
    web.force_login(agent)
    api.post("/api/v1/tickets/", {"subject": "Warm", "description": "up"},
             content_type="application/json")
    web.post(reverse("agent:reply", args=[warm.pk]), {"body": "Warm", "visibility": "note"},
             **HTMX)
    return agent, customer, api, web


def test_api_create_with_routing_assignment_clocks_and_audit_stays_in_budget(desk):
    agent, customer, api, _ = desk
    with CaptureQueriesContext(connection) as sql:
        response, queries, queued = counted(lambda: api.post(
            "/api/v1/tickets/", {"subject": "Export stops at 10k rows",
                                 "description": "Since this morning the CSV export is cut."},
            content_type="application/json"))
    statements = [q["sql"] for q in sql]
    assert response.status_code == 201, response.content[:300]
    ticket = Ticket.objects.get(pk=response.json()["id"])
    print(f"API create: {queries} queries")
    assert queries <= CREATE_BUDGET
    # The SLA due time went in with the INSERT (sla.services.plan_clocks): no UPDATE of
    # the new row, no read of it or of its clocks; the answer is the row as committed.
    assert not [q for q in statements if q.startswith(('UPDATE "tickets_ticket"',
                                                        'SELECT "tickets_ticket"',
                                                        'SELECT "sla_clock"'))]
    assert parse_datetime(response.json()["sla_due_at"]) == ticket.sla_due_at
    # Everything the issue counts is there, written in the request.
    assert ticket.assignee_id == agent.pk and ticket.status == "assigned"
    assert set(TicketEvent.objects.filter(ticket=ticket).values_list("kind", flat=True)) >= {
        "created", "status"}
    clocks = Clock.objects.filter(ticket=ticket)
    assert clocks.filter(metric=Metric.FIRST_RESPONSE, state=ClockState.RUNNING).exists()
    assert response.json()["sla_due_at"] is not None
    # The acknowledgement e-mail is the worker's: queued, then written once.
    assert len(queued) == 1 and not OutboundEmail.objects.filter(ticket=ticket).exists()
    run_reactions(queued)
    assert OutboundEmail.objects.filter(ticket=ticket, notice="customer.created").count() == 1


def test_portal_and_agent_page_create_follow_the_same_path(desk):
    """Same service, same budget: the forms' own reads on top (the portal's custom-field
    form, the agent form's requester), then the redirect."""
    agent, customer, api, web = desk
    portal = Client()
    portal.force_login(customer)
    response, queries, queued = counted(lambda: portal.post(
        reverse("portal:new_ticket"), {"subject": "Invoice PDF is empty",
                                       "description": "The October invoice opens blank."}))
    assert response.status_code == 302, response.content[:300]
    print(f"portal create: {queries} queries")
    assert queries <= PORTAL_CREATE_BUDGET
    ticket = Ticket.objects.get(subject="Invoice PDF is empty")
    assert Clock.objects.filter(ticket=ticket, metric=Metric.FIRST_RESPONSE).exists()
    assert ticket.sla_due_at is not None and len(queued) == 1
    run_reactions(queued)

    response, queries, queued = counted(lambda: web.post(
        reverse("agent:new_ticket"), {"requester": customer.username, "channel": "phone",
                                      "subject": "Called: SSO loop", "priority": "2",
                                      "description": "Login redirects forever."}))
    assert response.status_code == 302, response.content[:300]
    print(f"agent page create: {queries} queries")
    assert queries <= AGENT_CREATE_BUDGET
    ticket = Ticket.objects.get(subject="Called: SSO loop")
    assert ticket.priority == 2 and Clock.objects.filter(ticket=ticket).exists()
    run_reactions(queued)


def test_agent_reply_that_stops_an_sla_clock_stays_in_budget(desk):
    agent, customer, api, web = desk
    ticket = services.create_ticket(requester=customer, actor=customer,
                                    subject="Invoice PDF is empty",
                                    description="The October invoice opens blank.")
    services.add_reply(ticket, author=agent, body="Looking into it.")
    services.add_reply(ticket, author=customer, body="Any news?")  # a next response is due
    running = Clock.objects.filter(ticket=ticket, metric=Metric.NEXT_RESPONSE,
                                   completed_at__isnull=True)
    assert running.count() == 1
    # A server's steady state: an earlier reply of the process has loaded the SLA
    # policies and calendars (kept until their configuration changes).
    other = services.create_ticket(requester=customer, actor=customer,
                                   subject="Warm-up", description="An earlier ticket.")
    assert web.post(reverse("agent:reply", args=[other.pk]),
                    {"body": "On it.", "visibility": "public"}, **HTMX).status_code == 200

    with CaptureQueriesContext(connection) as sql:
        response, queries, queued = counted(lambda: web.post(
            reverse("agent:reply", args=[ticket.pk]),
            {"body": "Fixed: the PDF renders again.", "visibility": "public"}, **HTMX))
    assert response.status_code == 200
    print(f"agent reply: {queries} queries")
    assert queries <= REPLY_BUDGET
    # The SLA reaction works on the ticket the write holds: no second read of it, and
    # its clocks are read alone.
    statements = [q["sql"] for q in sql]
    assert len([q for q in statements if q.startswith('SELECT "tickets_ticket"')]) == 1
    assert not [q for q in statements
                if q.startswith("SELECT") and '"sla_clock"' in q and "JOIN" in q]
    assert b"Fixed: the PDF renders again." in response.content
    # The SLA reaction is part of the request: the clock stopped, the queue column moved.
    assert not running.exists()
    ticket.refresh_from_db()
    due = Clock.objects.filter(ticket=ticket, completed_at__isnull=True,
                               due_at__isnull=False).order_by("due_at").first()
    assert ticket.sla_due_at == due.due_at
    # The customer's e-mail is the worker's.
    message = Message.objects.get(ticket=ticket, body="Fixed: the PDF renders again.")
    assert len(queued) == 1 and not OutboundEmail.objects.filter(ticket_message=message)
    run_reactions(queued)
    assert OutboundEmail.objects.filter(ticket_message=message, kind="reply").count() == 1


def test_internal_note_stays_in_budget(desk):
    agent, customer, _, web = desk
    ticket = services.create_ticket(requester=customer, actor=customer,
                                    subject="SSO loop", description="Login redirects forever.")
    response, queries, queued = counted(lambda: web.post(
        reverse("agent:reply", args=[ticket.pk]),
        {"body": "Checked the IdP logs: clock skew.", "visibility": "note"}, **HTMX))
    assert response.status_code == 200
    print(f"internal note: {queries} queries")
    assert queries <= NOTE_BUDGET
    assert Message.objects.filter(ticket=ticket, is_public=False).count() == 1
    run_reactions(queued)


def test_a_refused_reply_on_a_closed_ticket_saves_nothing(desk):
    """The page's reply runs in one transaction from its read: a refusal leaves no
    message, no audit row and no outbox row behind."""
    agent, customer, _, web = desk
    ticket = make_ticket(customer, subject="Old one")
    Ticket.objects.filter(pk=ticket.pk).update(status="closed")
    before = (Message.objects.count(), TicketEvent.objects.count(),
              PendingEvents.objects.count())
    response = web.post(reverse("agent:reply", args=[ticket.pk]),
                        {"body": "Reopening?", "visibility": "public"}, **HTMX)
    assert response.status_code == 400
    assert (Message.objects.count(), TicketEvent.objects.count(),
            PendingEvents.objects.count()) == before

"""The single-ticket write scenarios of `manage.py bench`: API create, agent reply, note.

Each write goes through the real view (django.test.Client, as the read scenarios do), so
its figures include routing, assignment, audit rows, the SLA reaction and the outbox
row of the deferred reactions (mail, notices...), which a worker runs after commit and
the request does not wait for.

The reply and note land on a pool of tickets filed through `tickets.services` (so their
SLA clocks run), used in turn so no conversation grows past a page. Before each measured
agent reply the customer writes (unmeasured): the reply then stops a running
next-response clock, the SLA reaction an agent's answer really has.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.urls import Resolver404, resolve, reverse

from helpdesk.models import User
from tickets import services
from tickets.models import Ticket
from tickets.state_machine import Status

API_CREATE_PATH = "/api/v1/tickets/"
POOL_SUBJECT = "[bench] Write target"
POOL_SIZE = 25


@dataclass
class WriteScenario:
    """What `bench` measures (its Scenario fields) plus the per-request target and an
    unmeasured step before each request."""

    label: str
    user: User
    method: str
    path: str | None
    payload: Callable[[int], dict] | None = None
    missing: str = ""
    form: bool = False
    path_for: Callable[[int], str] | None = None
    before: Callable[[int], None] | None = None


def _pool(customer: User, agent: User) -> list[Ticket]:
    """The target tickets (found, or filed once through the service and given to the
    agent, as an agent would take them)."""
    found = list(Ticket.objects.filter(requester=customer, subject__startswith=POOL_SUBJECT)
                 .exclude(status__in=[Status.CLOSED, Status.RESOLVED]).order_by("pk")
                 [:POOL_SIZE])
    for n in range(len(found), POOL_SIZE):
        ticket = services.create_ticket(
            requester=customer, actor=customer, subject=f"{POOL_SUBJECT} {n + 1}",
            description="Target of the reply and note benchmarks: exports stop at 10k rows.")
        if ticket.assignee_id != agent.pk:
            ticket = services.assign(ticket, assignee=agent, actor=agent)
        found.append(ticket)
    return found


def scenarios(customer: User, agent: User) -> list[WriteScenario]:
    """API create (as the customer), the agent's public reply and internal note."""
    out = []
    label = f"API ticket create (POST {API_CREATE_PATH})"
    try:
        resolve(API_CREATE_PATH)
    except Resolver404:
        out.append(WriteScenario(label, customer, "post", None,
                                 missing=f"no {API_CREATE_PATH}"))
    else:
        out.append(WriteScenario(label, customer, "post", API_CREATE_PATH, lambda i: {
            "subject": f"[bench] API ticket {i}",
            "description": "Created by manage.py bench to time the API. "
                           "The export button does nothing in Safari 17."}))

    pool = _pool(customer, agent)

    def target(i: int) -> Ticket:
        return pool[i % len(pool)]

    def path(i: int) -> str:
        return reverse("agent:reply", args=[target(i).pk])

    def customer_writes(i: int) -> None:
        services.add_reply(target(i), author=customer,
                           body=f"Any news? It still stops at 10k rows ({i}).")

    out.append(WriteScenario(
        "agent public reply (POST reply/, SLA clock stops)", agent, "post", path(0),
        lambda i: {"body": f"Thanks, we are on it (bench reply {i}).",
                   "visibility": "public", "set_status": ""},
        form=True, path_for=path, before=customer_writes))
    out.append(WriteScenario(
        "agent internal note (POST reply/)", agent, "post", path(0),
        lambda i: {"body": f"Checked the export logs again (bench note {i}).",
                   "visibility": "note", "set_status": ""},
        form=True, path_for=path))
    return out

"""The batch write scenarios of `manage.py bench`: an incident's public update fanned out
to 1,000 linked tickets, and the queue's bulk bar changing 500 tickets (assign; status).

Each scenario runs once on real tickets of the database (they are changed: replies,
assignees, statuses), picked so that a second run takes other tickets: open tickets not
yet linked to a bench incident; tickets not yet assigned to the bench agent; assigned or
in-progress tickets for the status change. What is timed is what the support team waits
for, end to end: for the fan-out the publishing request and the whole job (replies,
clocks, events, mail and notifications queued after each chunk's commit, the customers'
digest); for the bulk bar the POST of the queue's bulk form, as an agent's browser
sends it.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from unittest import mock

from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from helpdesk.models import Membership, Team, User
from helpdesk.roles import Role
from incidents import services as incident_services
from incidents import tasks as incident_tasks
from incidents.models import IncidentTicket, UpdateDelivery
from tickets.models import Ticket
from tickets.state_machine import OPEN_STATUSES, Status

FANOUT_TICKETS = 1000
BULK_TICKETS = 500
BENCH_INCIDENT = "[bench] fan-out"


@dataclass
class BatchRun:
    """One timed run of a batch scenario."""

    label: str
    seconds: float = 0.0
    queries: int = 0
    sql_seconds: float = 0.0
    note: str = ""

    def row(self) -> str:
        if not self.seconds:
            return f"{self.label}: {self.note or 'n/a'}"
        return (f"{self.label}: {self.seconds * 1000:,.0f} ms total, {self.queries:,} queries, "
                f"{self.sql_seconds * 1000:,.0f} ms in SQL" + (f"; {self.note}"
                                                              if self.note else ""))


class _Counter:
    """Counts statements and their time (CaptureQueriesContext keeps only the last 9,000)."""

    def __init__(self, run: BatchRun) -> None:
        self.run = run

    def __call__(self, execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.run.sql_seconds += time.perf_counter() - t0
            self.run.queries += 1


def _timed(label: str, work: Callable[[], str]) -> BatchRun:
    run = BatchRun(label)
    with connection.execute_wrapper(_Counter(run)):
        t0 = time.perf_counter()
        run.note = work()
        run.seconds = time.perf_counter() - t0
    return run


def _lead() -> User:
    """A team lead of l1-general (publishes updates as the incident's commander)."""
    team = Team.objects.get(slug="l1-general")
    user = (User.objects.filter(is_active=True, groups__name=Role.TEAM_LEAD,
                                memberships__team=team).order_by("pk").first())
    if user is None:
        user, created = User.objects.get_or_create(
            username="bench-lead", defaults={"first_name": "Bench", "last_name": "Lead"})
        if created:
            user.set_unusable_password()
            user.save()
        user.groups.add(Group.objects.get_or_create(name=Role.TEAM_LEAD)[0])
        Membership.objects.get_or_create(team=team, user=user, defaults={"is_lead": True})
    return User.objects.get(pk=user.pk)


def incident_fan_out(*, tickets: int = FANOUT_TICKETS) -> list[BatchRun]:
    """Publish an update on an incident with `tickets` open tickets linked, and run the
    fan-out job in this process (as the worker would); then resolve the incident: the
    resolution message to every ticket and every ticket moved to resolved."""
    label = f"incident fan-out to {tickets:,} tickets"
    lead = _lead()
    linked = IncidentTicket.objects.filter(incident__title__startswith=BENCH_INCIDENT)
    ids = list(Ticket.objects.filter(status__in=[s.value for s in OPEN_STATUSES],
                                     merged_into__isnull=True)
               .exclude(pk__in=linked.values("ticket_id"))
               .order_by("-pk").values_list("pk", flat=True)[:tickets])
    if len(ids) < tickets:
        return [BatchRun(label, note=f"n/a (only {len(ids)} open tickets left)")]
    with mock.patch.object(incident_tasks.fan_out_update, "delay"):
        incident = incident_services.declare(
            title=f"{BENCH_INCIDENT} {uuid.uuid4().hex[:6]}", users_affected="one",
            impact="minor", actor=lead)
    now = timezone.now()
    IncidentTicket.objects.bulk_create(
        [IncidentTicket(incident=incident, ticket_id=pk, linked_by=lead, linked_at=now)
         for pk in ids], batch_size=1000)

    def update() -> str:
        with mock.patch.object(incident_tasks.fan_out_update, "delay"):
            update = incident_services.publish_update(
                incident, kind="initial", actor=lead,
                body="We are investigating failed logins; next update within the hour.")
        stats = incident_services.fan_out(update.pk)
        delivered = UpdateDelivery.objects.filter(update=update, skipped="").count()
        return (f"{delivered} replies, {stats.skipped} skipped, {stats.chunks} chunks, "
                f"longest transaction {stats.max_transaction_seconds:.2f} s")

    def resolution() -> str:
        with mock.patch.object(incident_tasks.resolve_cascade, "delay"):
            update = incident_services.resolve(incident, body="Logins work again.",
                                               actor=lead)
        incident_tasks.resolve_cascade(incident.pk, update.pk)
        moved = IncidentTicket.objects.filter(
            incident=incident, cascade_outcome=IncidentTicket.Outcome.MOVED).count()
        return f"{moved} tickets moved to resolved"

    return [_timed(label, update),
            _timed(f"incident resolution to {tickets:,} tickets (message, moves)",
                   resolution)]


def _agent() -> User:
    team = Team.objects.get(slug="l1-general")
    return (User.objects.filter(is_active=True, groups__name=Role.AGENT,
                                memberships__team=team).order_by("pk").first())


def _bulk_post(manager: User, ids: list[int], data: dict) -> str:
    client = Client()
    client.force_login(manager)
    response = client.post(reverse("agent:bulk"), {"ids": ids, **data}, HTTP_HX_REQUEST="true")
    if response.status_code >= 400:
        return f"status {response.status_code}"
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    refused = sum(1 for m in shown if " refused: " in m)
    changed = next((m for m in shown if m.endswith("changed.")), "")
    return f"{changed} {refused} refused".strip()


def bulk_updates(manager: User, *, tickets: int = BULK_TICKETS) -> list[BatchRun]:
    """The queue's bulk bar: assign `tickets` open tickets to one agent, then put
    `tickets` assigned or in-progress tickets on hold (waiting on a third party)."""
    agent = _agent()
    runs = []
    if agent is None:
        return [BatchRun(f"bulk update {tickets} tickets (assign)", note="n/a (no agent)")]
    open_ = [s.value for s in OPEN_STATUSES]
    assign_ids = list(Ticket.objects.filter(status__in=open_, merged_into__isnull=True)
                      .exclude(assignee=agent).order_by("-pk")
                      .values_list("pk", flat=True)[:tickets])
    runs.append(_timed(f"bulk update {tickets} tickets (assign)", lambda: _bulk_post(
        manager, assign_ids, {"action": "assign", "assignee": agent.pk})))
    status_ids = list(Ticket.objects.filter(
        status__in=[Status.ASSIGNED.value, Status.IN_PROGRESS.value],
        merged_into__isnull=True).order_by("-pk").values_list("pk", flat=True)[:tickets])
    runs.append(_timed(f"bulk update {tickets} tickets (status)", lambda: _bulk_post(
        manager, status_ids, {"action": "status", "status": Status.WAITING_ON_THIRD_PARTY.value,
                              "reason": "Waiting for the carrier's fix"})))
    return runs


def run_all(manager: User) -> list[BatchRun]:
    """Every batch scenario, in order."""
    return [*incident_fan_out(), *bulk_updates(manager)]

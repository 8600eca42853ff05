"""Benchmark of the public-update fan-out and the resolution cascade.

    manage.py incident_fanout_bench [--tickets 10000] [--customers 1] [--chunk 500]

Not part of the test suite: run it on a database of its own, e.g. on PostgreSQL
DATABASE_URL=postgres://postgres@127.0.0.1:5432/helpdesk_incbench. It creates
`--tickets` tickets (bulk insert: the set-up is not what is measured) linked to a new
SEV2 incident, then times

  (a) the fan-out of one public update: one agent reply and one delivery row per
      ticket, in chunks of `--chunk`, each chunk its own transaction;
  (b) the resolution: the resolution message to every ticket, then every ticket moved
      to resolved through the state machine, again chunk by chunk.

It prints total seconds, tickets per second, the number of chunks and the longest
transaction (chunk) in seconds, then checks that each ticket got each message once.
With `--customers N` the tickets belong to N customers (round robin) and it also times
the customers' e-mails: one per customer and update, listing their tickets (issue 18),
and prints how many were queued and how many per-ticket reply e-mails (expected 0).
"""
from __future__ import annotations

import statistics
import time
import uuid

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Count
from django.utils import timezone

from helpdesk.models import Organization, SupportTier, User
from helpdesk.roles import Role
from incidents import customer_mail, services
from incidents.models import IncidentTicket, UpdateDelivery
from mailgate.models import OutboundEmail
from tickets.models import Message, Ticket
from tickets.state_machine import Status


class Command(BaseCommand):
    help = "Time the fan-out of an incident update and the resolution cascade."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tickets", type=int, default=10_000)
        parser.add_argument("--customers", type=int, default=1)
        parser.add_argument("--chunk", type=int, default=services.CHUNK)

    def handle(self, *args, tickets: int, customers: int, chunk: int, **options) -> None:
        run = uuid.uuid4().hex[:8]
        org = Organization.objects.create(name=f"Bench {run}", domain=f"{run}.bench.example",
                                          support_tier=SupportTier.ENTERPRISE)
        people = [User.objects.create_user(username=f"bench-customer-{run}-{i}",
                                           email=f"customer-{i}@{run}.bench.example",
                                           organization=org)
                  for i in range(max(customers, 1))]
        Group.objects.get(name=Role.CUSTOMER).user_set.add(*people)
        lead = User.objects.create_user(username=f"bench-lead-{run}")
        lead.groups.add(Group.objects.get(name=Role.TEAM_LEAD))
        lead = User.objects.get(pk=lead.pk)
        now = timezone.now()
        t0 = time.perf_counter()
        rows = Ticket.objects.bulk_create(
            [Ticket(subject=f"Outage {n}", description="Cannot log in.",
                    requester=people[n % len(people)],
                    organization=org, status=Status.IN_PROGRESS.value, assignee=lead,
                    created_at=now, updated_at=now, status_changed_at=now)
             for n in range(tickets)], batch_size=2000)
        ids = [t.pk for t in rows] if rows and rows[0].pk else list(
            Ticket.objects.filter(organization=org).values_list("pk", flat=True))
        incident = services.declare(title=f"Bench outage {run}", users_affected="multiple",
                                    impact="complete", actor=lead)
        IncidentTicket.objects.bulk_create(
            [IncidentTicket(incident=incident, ticket_id=pk, linked_at=now) for pk in ids],
            batch_size=2000)
        self.stdout.write(f"Set-up: {tickets} tickets linked to {incident.reference} in "
                          f"{time.perf_counter() - t0:.1f} s")

        update = services.publish_update(incident, kind="initial", actor=lead,
                                         body="We are investigating failed logins.")
        started = time.perf_counter()
        stats = services.FanOutStats()
        while services.deliver_chunk(update.pk, limit=chunk, stats=stats) == chunk:
            pass
        delivered_at = time.perf_counter()
        customer_mail.queue_customer_digest(update.pk)
        digest = time.perf_counter() - delivered_at
        services.fan_out(update.pk, chunk=chunk)  # nothing left: marks it complete
        self._report("Fan-out of one update", time.perf_counter() - started, tickets, stats)
        queued = OutboundEmail.objects.filter(notice="customer.incident_update",
                                              key__contains=f":u{update.pk}:").count()
        replies = OutboundEmail.objects.filter(
            kind="reply", ticket__organization=org).count()
        self.stdout.write(
            f"  customer e-mails: {queued} queued for {len(people)} customers in "
            f"{digest:.2f} s (one per customer, listing their tickets); "
            f"{replies} per-ticket reply e-mails")

        resolution = services.resolve(incident, body="Logins work again.", actor=lead)
        started = time.perf_counter()
        fan = services.fan_out(resolution.pk, chunk=chunk)
        casc = services.cascade(incident.pk, chunk=chunk)
        took = time.perf_counter() - started
        self._report("  resolution message", sum(fan.chunk_seconds), tickets, fan)
        self._report("  tickets moved to resolved", sum(casc.chunk_seconds), tickets, casc)
        self.stdout.write(f"Resolution total: {took:.1f} s, {tickets / took:.0f} tickets/s")

        # Exactly once: one delivery per (update, ticket), one message per delivery.
        dup = (UpdateDelivery.objects.filter(update__incident=incident).values("update",
                                                                              "ticket")
               .annotate(n=Count("pk")).filter(n__gt=1).count())
        delivered = UpdateDelivery.objects.filter(update__incident=incident,
                                                  skipped="").count()
        messages = Message.objects.filter(ticket__organization=org, by_agent=True).count()
        resolved = Ticket.objects.filter(organization=org, status=Status.RESOLVED).count()
        self.stdout.write(f"Check: {delivered} deliveries, {messages} agent messages, "
                          f"{dup} duplicates, {resolved} tickets resolved "
                          f"(expected {2 * tickets}, {2 * tickets}, 0, {tickets})")

    def _report(self, label: str, seconds: float, tickets: int,
                stats: services.FanOutStats) -> None:
        per = stats.chunk_seconds or [0.0]
        self.stdout.write(
            f"{label}: {seconds:.1f} s total, {tickets / seconds if seconds else 0:.0f} "
            f"tickets/s, {stats.chunks} chunks, longest transaction "
            f"{stats.max_transaction_seconds:.2f} s, longest chunk with after-commit "
            f"handlers {stats.max_chunk_seconds:.2f} s (median {statistics.median(per):.2f} s), "
            f"{stats.delivered} done, {stats.skipped} skipped")

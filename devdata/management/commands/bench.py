"""Server-side latency and query counts of the busiest pages, on the current database.

    manage.py bench [--iterations 200] [--ticket-id ID]
    manage.py bench --all     # every page a user opens, warm and cold (bench_pages)

Not part of the test suite: run it against a seeded database (see `seed_data`). Requests
go through django.test.Client inside this process, so the figures are the server's own
time (URL routing, middleware, views, templates, SQL), without network or a web server.
A page whose URL does not exist (yet) is reported as "n/a".
"""
from __future__ import annotations

import math
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.db.models import Count
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from devdata import bench_api, bench_custom_fields, bench_fanout, bench_rules, bench_writes
from devdata.pages import production_like
from helpdesk.models import Membership, Team, User
from helpdesk.roles import Role
from tickets.models import Channel, EventKind, Message, Priority, Ticket, TicketEvent
from tickets.state_machine import Status

LONG_TICKET_SUBJECT = "[bench] Long conversation (50 messages)"


@dataclass
class Result:
    label: str
    user: str
    times_ms: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    note: str = ""
    sql_ms: list[float] = field(default_factory=list)  # time in SQL per request
    slowest: tuple[float, str] = (0.0, "")  # the slowest single query seen

    def percentile(self, p: float) -> float:
        ordered = sorted(self.times_ms)
        return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


@dataclass
class Scenario:
    label: str
    user: User | None
    method: str
    path: str | None  # None: the URL does not exist
    payload: Callable[[int], dict] | None = None
    missing: str = ""
    form: bool = False  # POST as a form (with HX-Request), not JSON


class Command(BaseCommand):
    help = ("Measure p50/p95/max latency and SQL queries per request of the agent queue, "
            "the ticket page, the customer ticket list, API ticket creation and an agent's "
            "public reply.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--iterations", type=int, default=None,
                            help="Measured requests per scenario (default 200; with --all "
                                 "30 per page).")
        parser.add_argument("--warmup", type=int, default=5,
                            help="Unmeasured requests first (default 5).")
        parser.add_argument("--ticket-id", type=int, default=None,
                            help="Ticket for the ticket page (default: a 50-message ticket, "
                                 "created once if needed).")
        parser.add_argument("--customer", default=None,
                            help="Username of the customer (default: the one with most "
                                 "tickets).")
        parser.add_argument("--batch-only", action="store_true",
                            help="Only the batch writes: incident fan-out, bulk update.")
        parser.add_argument("--seed-custom-fields", action="store_true",
                            help="First give every ticket values of two bench custom "
                                 "fields (one SQL UPDATE; see devdata/bench_custom_fields.py).")
        parser.add_argument("--custom-fields-only", action="store_true",
                            help="Only the custom-field filter scenario.")
        parser.add_argument("--api-only", action="store_true",
                            help="Only the API reads: ticket list (first, 1,000th page, "
                                 "filtered), a ticket, its messages and events, the "
                                 "incremental export of 10,000 changes.")
        parser.add_argument("--rules-only", action="store_true",
                            help="Only triggers and automations (create with 50 triggers, "
                                 "the automation scan).")
        parser.add_argument("--writes-only", action="store_true",
                            help="Only the single-ticket writes: API create, agent reply, "
                                 "note, and the creates with and without 50 triggers.")
        parser.add_argument("--all", action="store_true",
                            help="Every page a user opens instead, warm and cold "
                                 "(manage.py bench_pages; see devdata/pages.py).")

    def handle(self, *args, **opts) -> None:
        if opts["all"]:
            pages = {"verbosity": opts["verbosity"], "stdout": self.stdout}
            if opts["iterations"] is not None:
                pages["iterations"] = opts["iterations"]
            call_command("bench_pages", **pages)
            return
        iterations, warmup = opts["iterations"] or 200, opts["warmup"]
        self.verbosity = opts["verbosity"]
        if iterations < 1 or warmup < 0:
            raise CommandError("--iterations must be at least 1, --warmup at least 0")
        started = time.perf_counter()
        tickets = Ticket.objects.count()
        messages = Message.objects.count()
        if tickets == 0:
            raise CommandError("No tickets: seed first (manage.py seed_data or demo).")
        manager = self._manager()
        if opts["seed_custom_fields"]:
            bench_custom_fields.seed(self.stdout)
        if opts["custom_fields_only"]:
            with production_like():
                bench_custom_fields.run(self.stdout, manager=manager, iterations=iterations)
            return
        l1_agent = self._l1_agent()
        customer = self._customer(opts["customer"])
        if opts["api_only"]:
            self.stdout.write(
                f"API benchmark on {connection.vendor} "
                f"({connection.settings_dict.get('NAME')}): {tickets:,} tickets, "
                f"{messages:,} messages; users: manager={manager.username}, L1 agent="
                f"{l1_agent.username}, customer={customer.username}")
            with production_like():
                bench_api.run(self.stdout, manager=manager, agent=l1_agent, customer=customer,
                              iterations=iterations, warmup=warmup)
            return
        ticket_id = opts["ticket_id"] or self._long_ticket(customer, l1_agent)
        self.stdout.write(
            f"Benchmark on {connection.vendor} ({connection.settings_dict.get('NAME')}): "
            f"{tickets:,} tickets, {messages:,} messages; {iterations} requests per "
            f"scenario after {warmup} warm-up(s); setup {time.perf_counter() - started:.1f}s")
        self.stdout.write(
            f"users: manager={manager.username}, L1 agent={l1_agent.username}, "
            f"customer={customer.username} "
            f"({Ticket.objects.filter(requester=customer).count():,} tickets), "
            f"ticket page #{ticket_id} "
            f"({Message.objects.filter(ticket_id=ticket_id).count()} messages)")

        scenarios = [
            *(self._page(f'agent queue "open", {n}/page', manager, "agent:queue", ["open"],
                         f"?per_page={n}") for n in (25, 100)),
            *(self._page(f'agent queue "teams", {n}/page', l1_agent, "agent:queue",
                         ["teams"], f"?per_page={n}") for n in (25, 100)),
            self._page("ticket page (~50 messages)", manager, "agent:ticket", [ticket_id]),
            self._page("customer ticket list", customer, "portal:tickets", []),
            *bench_writes.scenarios(customer, l1_agent),  # create, reply, note
        ]
        created_before = Ticket.objects.filter(subject__startswith="[bench] API").count()
        if opts["writes_only"]:
            with production_like():
                self._print([self._run(scenario, iterations, warmup)
                             for scenario in bench_writes.scenarios(customer, l1_agent)])
                bench_rules.run(self.stdout, customer=customer, iterations=iterations)
            return
        if opts["rules_only"]:
            with production_like():
                bench_rules.run(self.stdout, customer=customer, iterations=iterations)
            return
        results = []
        with production_like():
            for scenario in scenarios if not opts["batch_only"] else ():
                results.append(self._run(scenario, iterations, warmup))
            batch = bench_fanout.run_all(manager)  # once each, on real tickets
        self._print(results)
        self.stdout.write("\nBatch writes (one run each):\n" + "\n".join(
            f"  {run.row()}" for run in batch))
        with production_like():  # triggers and automations (#23)
            bench_rules.run(self.stdout, customer=customer, iterations=min(iterations, 100))
        with production_like():  # the API list pages and the incremental export (#21)
            bench_api.run(self.stdout, manager=manager, agent=l1_agent, customer=customer,
                          iterations=min(iterations, 50))
        with production_like():  # the queue filtered on a custom field (issue 23)
            bench_custom_fields.run(self.stdout, manager=manager, iterations=iterations)
        created = Ticket.objects.filter(subject__startswith="[bench] API").count()
        if created > created_before:
            self.stdout.write(f"The API scenario created {created - created_before} tickets "
                              "(subject starts with '[bench] API').")

    # --- who and what -------------------------------------------------------------

    def _staff(self, username: str, role: str, team: Team | None = None) -> User:
        """A bench user when the database has none of that kind (no usable password)."""
        user, created = User.objects.get_or_create(
            username=username, defaults={"first_name": "Bench", "last_name": role.title()})
        if created:
            user.set_unusable_password()
            user.save()
        user.groups.add(Group.objects.get_or_create(name=role)[0])
        if team is not None:
            Membership.objects.get_or_create(team=team, user=user)
        return User.objects.get(pk=user.pk)

    def _manager(self) -> User:
        qs = User.objects.filter(is_active=True, groups__name=Role.MANAGER)
        user = qs.filter(username="manager").first() or qs.order_by("pk").first()
        return user or self._staff("bench-manager", Role.MANAGER)

    def _l1_agent(self) -> User:
        team = Team.objects.filter(slug="l1-general").first()
        if team is None:
            raise CommandError("Team l1-general is missing: run `manage.py migrate`.")
        qs = User.objects.filter(is_active=True, groups__name=Role.AGENT,
                                 memberships__team=team)
        user = qs.filter(username="agent").first() or qs.order_by("pk").first()
        return user or self._staff("bench-l1-agent", Role.AGENT, team)

    def _customer(self, username: str | None) -> User:
        if username:
            user = User.objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"No user {username!r}.")
            return user
        top = (Ticket.objects.values("requester_id").annotate(n=Count("id"))
               .order_by("-n").first())
        return User.objects.get(pk=top["requester_id"])

    def _long_ticket(self, customer: User, agent: User) -> int:
        """A ticket with 50 messages (found, or written once with bulk inserts)."""
        existing = (Ticket.objects.filter(requester=customer, subject=LONG_TICKET_SUBJECT)
                    .values_list("pk", flat=True).first())
        if existing:
            return existing
        team = Team.objects.get(slug="l1-general")
        start = timezone.now() - timedelta(days=10)
        with transaction.atomic():
            ticket = Ticket.objects.create(
                subject=LONG_TICKET_SUBJECT, requester=customer,
                organization_id=customer.organization_id, team=team, assignee=agent,
                description="A long back-and-forth, for the ticket page benchmark.",
                priority=Priority.P3, channel=Channel.EMAIL, status=Status.IN_PROGRESS.value,
                created_at=start, updated_at=start + timedelta(hours=99),
                status_changed_at=start + timedelta(hours=1),
                first_response_at=start + timedelta(hours=1),
            )
            msgs = []
            for i in range(50):
                by_agent = i % 2 == 0
                note = i % 10 == 4
                msgs.append(Message(
                    ticket=ticket, author=agent if by_agent or note else customer,
                    by_agent=by_agent or note, is_public=not note, channel=Channel.EMAIL,
                    created_at=start + timedelta(hours=1 + 2 * i),
                    body=(f"Message {i + 1}: " + (
                        "Internal: checked the logs again, nothing new." if note else
                        "Thanks, we are still looking into this and will update you soon."
                        if by_agent else "Any news? It still happens several times a day.")
                          ) * 3,
                ))
            Message.objects.bulk_create(msgs)
            TicketEvent.objects.create(ticket=ticket, actor=customer, created_at=start,
                                       kind=EventKind.CREATED, after=ticket.subject,
                                       is_public=True)
        self.stdout.write(f"Created ticket #{ticket.pk} with 50 messages for the ticket page.")
        return ticket.pk

    # --- scenarios ----------------------------------------------------------------

    def _page(self, label: str, user: User, name: str, args: list,
              query: str = "") -> Scenario:
        try:
            path = reverse(name, args=args) + query
        except NoReverseMatch:
            return Scenario(label, user, "get", None, missing=f"no URL named {name}")
        return Scenario(label, user, "get", path)

    def _run(self, scenario: Scenario, iterations: int, warmup: int) -> Result:
        who = scenario.user.username if scenario.user else "-"
        result = Result(scenario.label, who)
        if scenario.path is None:
            result.note = f"n/a ({scenario.missing})"
            return result
        client = Client()
        client.force_login(scenario.user)
        throttle_key = f"throttle_user_{scenario.user.pk}"
        # Write scenarios (devdata.bench_writes): a target per request, an unmeasured step.
        path_for = getattr(scenario, "path_for", None) or (lambda i: scenario.path)
        before = getattr(scenario, "before", None) or (lambda i: None)

        def request(i: int):
            cache.delete(throttle_key)  # the API's per-user throttle would trip
            if scenario.method == "post" and scenario.form:
                return client.post(path_for(i), scenario.payload(i), HTTP_HX_REQUEST="true")
            if scenario.method == "post":
                return client.post(path_for(i), scenario.payload(i),
                                   content_type="application/json")
            return client.get(path_for(i))

        try:
            for i in range(warmup):
                before(-1 - i)
                request(-1 - i)
            for i in range(iterations):
                before(i)
                with CaptureQueriesContext(connection) as ctx:
                    t0 = time.perf_counter()
                    response = request(i)
                    elapsed = time.perf_counter() - t0
                result.times_ms.append(elapsed * 1000)
                result.queries.append(len(ctx.captured_queries))
                sql_ms = 0.0
                for q in ctx.captured_queries:
                    ms = float(q.get("time") or 0) * 1000
                    sql_ms += ms
                    if ms > result.slowest[0]:
                        result.slowest = (ms, q.get("sql") or "")
                result.sql_ms.append(sql_ms)
                result.statuses[response.status_code] += 1
        except Exception as exc:  # noqa: BLE001 - report and go on with the others
            result.note = f"error: {type(exc).__name__}: {str(exc).splitlines()[0][:80]}"
        return result

    # --- output -------------------------------------------------------------------

    def _print(self, results: list[Result]) -> None:
        header = ("scenario", "user", "status", "p50 ms", "p95 ms", "max ms", "queries",
                  "SQL ms p50")
        rows = [header]
        for r in results:
            if not r.times_ms:
                rows.append((r.label, r.user, r.note or "n/a", "", "", "", "", ""))
                continue
            statuses = ",".join(f"{code}" if n == sum(r.statuses.values()) else f"{code}x{n}"
                                for code, n in sorted(r.statuses.items()))
            q_low, q_high = min(r.queries), max(r.queries)
            queries = (f"{q_low}" if q_low == q_high
                       else f"{statistics.median(r.queries):g} ({q_low}-{q_high})")
            rows.append((r.label, r.user, statuses + (f" {r.note}" if r.note else ""),
                         f"{r.percentile(0.5):.1f}", f"{r.percentile(0.95):.1f}",
                         f"{max(r.times_ms):.1f}", queries,
                         f"{statistics.median(r.sql_ms):.1f}"))
        widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
        right = {3, 4, 5, 6, 7}
        line = "-+-".join("-" * w for w in widths)
        self.stdout.write("")
        for i, row in enumerate(rows):
            self.stdout.write(" | ".join(
                str(c).rjust(w) if j in right and i else str(c).ljust(w)
                for j, (c, w) in enumerate(zip(row, widths, strict=True))))
            if i == 0:
                self.stdout.write(line)
        if self.verbosity >= 1:
            self.stdout.write("")
            self.stdout.write("Slowest single query per scenario:")
            for r in results:
                if r.slowest[1]:
                    sql = " ".join(r.slowest[1].split())
                    self.stdout.write(f"  {r.label}: {r.slowest[0]:.1f} ms  {sql[:300]}")
        slow = [r.label for r in results if r.times_ms and any(
            code >= 400 for code in r.statuses)]
        if slow:
            self.stdout.write(self.style.WARNING(
                "Some requests failed (status >= 400): " + "; ".join(slow)))

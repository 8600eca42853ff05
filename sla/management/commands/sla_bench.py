"""Benchmark of the SLA escalation scan and of business-calendar arithmetic.

    manage.py sla_bench [--clocks 1000000] [--due 1000] [--cycles 10] [--with-email]

Not part of the test suite. Run it on a database of its own, on PostgreSQL as in
production, e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/helpdesk_slabench.

It loads `--clocks` running SLA clocks (COPY on PostgreSQL; `--cycles` clocks per
ticket, so 1,000,000 clocks live on 100,000 tickets), all but `--due` of them with
their next level days ahead. Those stay in the database and are reused by the next
run of the same size. Then it times

  (a) the escalation scan when nothing is due (target: under 50 ms), with its plan;
  (b) the scan when `--due` clocks have crossed their 90 % level (target: under 2 s,
      notifications included: the assignee and the team lead of each ticket);
  (c) BusinessCalendar.add / elapsed over 30-day spans.

The due clocks of (b) sit on tickets of their own that are deleted afterwards, with
everything the scan wrote for them. With `--with-email` the bench users have e-mail
addresses, so each notification also queues its e-mail task on the configured Celery
broker: point CELERY_BROKER_URL at a broker nobody consumes from, and empty it after.
"""
from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone

from helpdesk.bulkload import RowWriter
from helpdesk.models import Membership, Notification, Team, User
from helpdesk.roles import Role
from sla import escalation
from sla.defaults import LEVELS
from sla.models import (
    Clock,
    ClockEvent,
    ClockLevelFire,
    ClockPause,
    ClockState,
    Level,
    Metric,
    Policy,
)
from sla.tasks import scan_due_clocks
from tickets.models import Channel, Ticket, TicketEvent

PREFIX = "slabench"
POLICY_NAME = "SLA bench (do not use)"
TEAM_SLUG = f"{PREFIX}-team"
BULK_SUBJECT = "[sla-bench] background ticket"
DUE_SUBJECT = "[sla-bench] ticket crossing a level"
AGENTS = 10
CHUNK = 50_000
DUE_PERCENT = 90  # red: the assignee and the team lead are told
TARGET_NONE_DUE_MS = 50
TARGET_DUE_S = 2.0

TICKET_COLUMNS = ("subject", "description", "requester_id", "priority", "channel", "team_id",
                  "assignee_id", "status", "created_at", "updated_at", "status_changed_at",
                  "sla_due_at")
CLOCK_COLUMNS = ("ticket_id", "metric", "cycle", "policy_id", "target", "internal_target",
                 "state", "started_at", "segment_started_at", "business_used", "due_at",
                 "internal_due_at", "next_level_at", "next_level_percent", "updated_at")


class Command(BaseCommand):
    help = "Time the SLA escalation scan on many running clocks (a benchmark, not a test)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--clocks", type=int, default=1_000_000,
                            help="Running clocks in total (default 1,000,000).")
        parser.add_argument("--due", type=int, default=1_000,
                            help="How many of them crossed a level (default 1,000).")
        parser.add_argument("--cycles", type=int, default=10,
                            help="Clocks per background ticket (default 10).")
        parser.add_argument("--scans", type=int, default=30,
                            help="Repetitions of the empty scan (default 30).")
        parser.add_argument("--repeat", type=int, default=3,
                            help="Repetitions of the due scan, each on fresh due clocks "
                                 "(default 3).")
        parser.add_argument("--with-email", action="store_true",
                            help="Bench users have e-mail: each notification queues a task.")
        parser.add_argument("--calendar-runs", type=int, default=2_000)

    def handle(self, *args, **opts) -> None:
        clocks, due = opts["clocks"], opts["due"]
        if due < 0 or clocks < due or opts["cycles"] < 1:
            raise CommandError("Need 0 <= --due <= --clocks and --cycles >= 1.")
        self.postgres = connection.vendor == "postgresql"
        if not self.postgres:
            self.stdout.write(self.style.WARNING(
                "Not PostgreSQL: figures say little about production (use DATABASE_URL)."))
        self.writer = RowWriter()
        self.rng = random.Random(2026)
        db = connection.settings_dict
        self.stdout.write(f"Database: {connection.vendor} {db.get('NAME')}")

        staff = self.prepare_people(with_email=opts["with_email"])
        policy = self.prepare_policy()
        started = time.perf_counter()
        loaded = self.prepare_background(clocks - due, opts["cycles"], staff, policy)
        self.stdout.write(f"Background clocks: {clocks - due:,} "
                          f"({'reused' if not loaded else f'loaded in {loaded:.1f} s'}; "
                          f"setup {time.perf_counter() - started:.1f} s)")
        self.bench_empty_scan(opts["scans"])
        if due:
            self.stdout.write(f"\n(b) Scan with {due:,} clocks that crossed {DUE_PERCENT}% "
                              f"(of {clocks:,} running clocks); notifications to the assignee "
                              "and the team lead")
            runs = [self.bench_due_scan(due, staff, policy) for _ in range(opts["repeat"])]
            best = min(runs)
            self.stdout.write(f"   best of {len(runs)}: {best:.3f} s, median "
                              f"{statistics.median(runs):.3f} s (target < {TARGET_DUE_S:.0f} s) "
                              f"{self.verdict(best < TARGET_DUE_S)}")
        self.bench_calendar(opts["calendar_runs"])

    # --- setup ---------------------------------------------------------------------------

    def prepare_people(self, *, with_email: bool) -> dict:
        team, _ = Team.objects.get_or_create(slug=TEAM_SLUG, defaults={"name": "SLA bench"})

        def person(name: str, role: str) -> User:
            user, created = User.objects.get_or_create(
                username=f"{PREFIX}-{name}", defaults={"first_name": name.title()})
            email = f"{PREFIX}-{name}@bench.invalid" if with_email else ""
            if created or user.email != email:
                user.email = email
                user.set_unusable_password()
                user.save()
            user.groups.add(Group.objects.get(name=role))
            return user

        agents = [person(f"agent{i}", Role.AGENT) for i in range(AGENTS)]
        lead = person("lead", Role.TEAM_LEAD)
        for user in agents:
            Membership.objects.get_or_create(team=team, user=user)
        Membership.objects.update_or_create(team=team, user=lead, defaults={"is_lead": True})
        customer = person("customer", Role.CUSTOMER)
        return {"team": team, "agents": agents, "lead": lead, "customer": customer}

    def prepare_policy(self) -> Policy:
        # A policy of its own, with the default ladder, so the bench never edits real ones.
        policy, created = Policy.objects.get_or_create(
            name=POLICY_NAME, defaults={"order": 10_000, "is_active": False,
                                        "description": "Used by manage.py sla_bench only."})
        if created:
            Level.objects.bulk_create([
                Level(policy=policy, percent=p, colour=c, notify_assignee=a,
                      notify_team_lead=lead, notify_managers=mgr, raise_priority=raise_)
                for p, c, a, lead, mgr, raise_ in LEVELS
            ])
        return policy

    def prepare_background(self, count: int, cycles: int, staff: dict,
                           policy: Policy) -> float | None:
        """Load `count` clocks whose next level is at least a day away; None if reused."""
        bench_tickets = Ticket.objects.filter(requester=staff["customer"], subject=BULK_SUBJECT)
        existing = Clock.objects.filter(policy=policy, ticket__subject=BULK_SUBJECT)
        now = timezone.now()
        if (existing.count() == count
                and not existing.filter(next_level_at__lte=now + timedelta(hours=1)).exists()):
            return None
        self.stdout.write("Loading background tickets and clocks...")
        started = time.perf_counter()
        self.delete_tickets(bench_tickets)
        if count == 0:
            return 0.0
        n_tickets = math.ceil(count / cycles)
        first_ticket = self.writer.reserve_ids(Ticket, n_tickets)
        agents = staff["agents"]
        rows = []
        for i in range(n_tickets):
            created = now - timedelta(minutes=self.rng.randrange(1, 48 * 60))
            rows.append((BULK_SUBJECT, "Background load for the SLA scan benchmark.",
                         staff["customer"].pk, 3, Channel.WEB, staff["team"].pk,
                         agents[i % len(agents)].pk, "in_progress", created, created, created,
                         None))
            if len(rows) == CHUNK:
                self.write_rows(Ticket, TICKET_COLUMNS, rows, ids_end=first_ticket + i + 1)
                rows = []
        self.write_rows(Ticket, TICKET_COLUMNS, rows, ids_end=first_ticket + n_tickets)
        self.writer.reset_sequence(Ticket)
        rows = []
        for n, row in enumerate(self.background_clocks(count, cycles, first_ticket, policy,
                                                       now), start=1):
            rows.append(row)
            if len(rows) == CHUNK:
                self.write_rows(Clock, CLOCK_COLUMNS, rows)
                rows = []
                if n % 200_000 == 0:
                    self.stdout.write(f"  {n:,} clocks")
        self.write_rows(Clock, CLOCK_COLUMNS, rows)
        self.writer.analyze([Ticket, Clock])
        return time.perf_counter() - started

    def background_clocks(self, count: int, cycles: int, first_ticket: int, policy: Policy,
                          now: datetime) -> Iterator[tuple]:
        """Resolution clocks on a 24/7 calendar, 3 to 30 days long, next level (50 %) at
        least a day ahead: one reused database stays valid for a while."""
        targets = [timedelta(days=d) for d in (3, 5, 10, 30)]
        for k in range(count):
            ticket_id, cycle = first_ticket + k // cycles, k % cycles + 1
            target = targets[k % len(targets)]
            half = target / 2
            ahead = timedelta(days=1) + (half - timedelta(days=1)) * self.rng.random()
            started = now + ahead - half
            yield (ticket_id, Metric.RESOLUTION, cycle, policy.pk, target, target * 3 / 4,
                   ClockState.RUNNING, started, started, timedelta(0), started + target,
                   started + target * 3 / 4, started + half, 50, now)

    def write_rows(self, model, columns: tuple[str, ...], rows: list[tuple], *,
                   ids_end: int | None = None) -> None:
        """Write rows; with `ids_end`, they take the reserved ids just below it."""
        if not rows:
            return
        if ids_end is not None:
            columns = ("id", *columns)
            start = ids_end - len(rows)
            rows = [(start + j, *row) for j, row in enumerate(rows)]
        if not self.postgres:  # SQLite stores durations as integer microseconds
            rows = [tuple(v // timedelta(microseconds=1) if isinstance(v, timedelta) else v
                          for v in row) for row in rows]
        with transaction.atomic():
            self.writer.write(model, columns, rows)

    def delete_tickets(self, tickets) -> None:
        """Remove bench tickets, their clocks and what the scan wrote for them.

        One DELETE per table (QuerySet._raw_delete, as Django's own fast delete does):
        the ORM's cascade would load a million clocks into memory first.
        """
        db = Clock.objects.db
        clocks = Clock.objects.filter(ticket__in=tickets).values("pk")
        with transaction.atomic():
            for model in (ClockLevelFire, ClockEvent, ClockPause):
                model.objects.filter(clock__in=clocks)._raw_delete(db)
            Clock.objects.filter(ticket__in=tickets)._raw_delete(db)
            TicketEvent.objects.filter(ticket__in=tickets)._raw_delete(db)
            tickets._raw_delete(db)

    # --- (a) nothing due -------------------------------------------------------------------

    def bench_empty_scan(self, scans: int) -> None:
        now = timezone.now()
        already_due = Clock.objects.filter(next_level_at__lte=now).count()
        total = Clock.objects.filter(next_level_at__isnull=False).count()
        self.stdout.write(f"\n(a) Scan with nothing due: {total:,} clocks with a next level, "
                          f"{already_due:,} due")
        if already_due:
            self.stdout.write(self.style.WARNING(
                "   Some clocks of this database are due already: the first scan fires them."))
            escalation.fire_due_levels(limit=1_000_000)
        times = []
        for _ in range(scans):
            began = time.perf_counter()
            handled = escalation.fire_due_levels()
            times.append((time.perf_counter() - began) * 1000)
            assert handled == 0
        med = statistics.median(times)
        self.stdout.write(f"   fire_due_levels(): median {med:.2f} ms, min {min(times):.2f} ms, "
                          f"max {max(times):.2f} ms over {scans} scans "
                          f"(target < {TARGET_NONE_DUE_MS} ms) {self.verdict(med < 50)}")
        if self.postgres:
            with transaction.atomic(), connection.cursor() as cursor:
                sql, params = escalation.due_clocks(timezone.now(),
                                                    escalation.BATCH_SIZE).query.sql_with_params()
                cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {sql}", params)
                self.stdout.write("   plan:")
                for (line,) in cursor.fetchall():
                    self.stdout.write(f"     {line}")

    # --- (b) due clocks --------------------------------------------------------------------

    def bench_due_scan(self, due: int, staff: dict, policy: Policy) -> float:
        """One timed scan over `due` fresh clocks crossing 90 %; returns its seconds."""
        now = timezone.now()
        agents = staff["agents"]
        target = timedelta(hours=4)
        started = now - target * 0.92  # 90 % passed a few minutes ago, 100 % still ahead
        first = self.writer.reserve_ids(Ticket, due)
        rows = [(DUE_SUBJECT, "A ticket whose clock crossed 90 %.", staff["customer"].pk, 3,
                 Channel.WEB, staff["team"].pk, agents[i % len(agents)].pk, "in_progress",
                 started, started, started, started + target) for i in range(due)]
        self.write_rows(Ticket, TICKET_COLUMNS, rows, ids_end=first + due)
        self.writer.reset_sequence(Ticket)
        clocks = [(first + i, Metric.FIRST_RESPONSE, 1, policy.pk, target, target * 3 / 4,
                   ClockState.RUNNING, started, started, timedelta(0), started + target,
                   started + target * 3 / 4, started + target * DUE_PERCENT / 100, DUE_PERCENT,
                   now) for i in range(due)]
        self.write_rows(Clock, CLOCK_COLUMNS, clocks)
        due_tickets = Ticket.objects.filter(pk__gte=first, pk__lt=first + due,
                                            subject=DUE_SUBJECT)
        due_clocks = Clock.objects.filter(ticket__in=due_tickets)
        # 50 % and 80 % fired earlier: only the 90 % level is due now.
        fires = [(c, p, started + target * p / 100, started + target * p / 100)
                 for c in due_clocks.values_list("pk", flat=True) for p in (50, 80)]
        self.write_rows(ClockLevelFire, ("clock_id", "percent", "scheduled_at", "fired_at"),
                        fires)
        self.writer.analyze([Ticket, Clock, ClockLevelFire])
        notes_before = Notification.objects.count()
        queries = [0]

        def count(execute, sql, params, many, context):
            queries[0] += 1
            return execute(sql, params, many, context)

        try:
            with connection.execute_wrapper(count):
                cpu, began = time.process_time(), time.perf_counter()
                handled = scan_due_clocks()
                seconds = time.perf_counter() - began
                cpu = time.process_time() - cpu
            fired = ClockLevelFire.objects.filter(clock__in=due_clocks,
                                                  percent=DUE_PERCENT).count()
            notes = Notification.objects.count() - notes_before
            per = seconds / max(handled, 1) * 1000
            self.stdout.write(
                f"   scan_due_clocks(): {seconds:.3f} s for {handled:,} clocks "
                f"({per:.2f} ms each; {cpu:.3f} s CPU in this process), {fired:,} levels "
                f"fired, {notes:,} notifications, {queries[0]:,} SQL queries")
            if fired != due:
                self.stdout.write(self.style.ERROR(f"   expected {due} levels fired"))
            began = time.perf_counter()
            again = escalation.fire_due_levels()
            self.stdout.write(f"   the scan right after: {again} due, "
                              f"{(time.perf_counter() - began) * 1000:.2f} ms")
            return seconds
        finally:
            users = [*agents, staff["lead"]]
            Notification.objects.filter(recipient__in=users,
                                        dedupe_key__startswith="sla:")._raw_delete(
                                            Notification.objects.db)
            self.delete_tickets(due_tickets)

    # --- (c) calendar ----------------------------------------------------------------------

    def bench_calendar(self, runs: int) -> None:
        from sla.bench_calendar import (
            THIRTY_BUSINESS_DAYS,
            make_calendar,
            mean_cold_us,
            mean_warm_us,
            random_starts,
        )

        cal = make_calendar()
        starts = random_starts(runs)
        ends = [cal.add(s, THIRTY_BUSINESS_DAYS) for s in starts]
        month = timedelta(days=30)
        adds = [lambda s=s: cal.add(s, THIRTY_BUSINESS_DAYS) for s in starts]
        spans = [lambda s=s, e=e: cal.elapsed(s, e) for s, e in zip(starts, ends, strict=True)]
        months = [lambda s=s: cal.elapsed(s, s + month) for s in starts]
        self.stdout.write(f"\n(c) BusinessCalendar, {cal!r}, {runs:,} random starts in 2026")
        self.stdout.write("                                    fresh caches   warm caches")
        for label, calls in (("add(start, 30 business days)", adds),
                             ("elapsed(start, +30 business days)", spans),
                             ("elapsed(start, +30 calendar days)", months)):
            cold, warm = mean_cold_us(cal, calls), mean_warm_us(calls)
            self.stdout.write(f"   {label:33s}{cold:10.1f} µs {warm:10.1f} µs "
                              f"{self.verdict(cold < 1000)}")

    def verdict(self, ok: bool) -> str:
        return self.style.SUCCESS("OK") if ok else self.style.ERROR("SLOW")

"""Seed a realistic helpdesk data set fast (bulk COPY on PostgreSQL), e.g. for load tests.

    manage.py seed_data --tickets 1000000 --seed 7 [--now 2026-12-01T00:00Z] [--skip qa,casework]

Every app's generator (helpdesk/generators.py) adds its history; progress per app.
"""
from __future__ import annotations

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser

from devdata.seeding import SeedOptions, seed
from helpdesk import generators
from helpdesk.bulkload import BulkLoadError


class Command(BaseCommand):
    help = ("Generate organizations, customers, agents and months of tickets with "
            "conversations and audit events, written in bulk. Deterministic per --seed.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tickets", type=int, default=1000,
                            help="Number of tickets (default 1000).")
        parser.add_argument("--orgs", type=int, default=None,
                            help="Organizations (default tickets/20, 5..50,000).")
        parser.add_argument("--agents", type=int, default=None,
                            help="Agents in the four teams (default tickets/5,000, 8..200).")
        parser.add_argument("--messages-per-ticket", type=float, default=3.5,
                            help="Average conversation length (default 3.5).")
        parser.add_argument("--seed", type=int, default=1, help="Random seed (default 1).")
        parser.add_argument("--months", type=float, default=6,
                            help="Spread tickets over the last N months (default 6).")
        parser.add_argument("--open-share", type=float, default=0.04,
                            help="Share of tickets still open (default 0.04).")
        parser.add_argument("--sla-due", action="store_true",
                            help="Fill sla_due_at of open tickets (P1 4h ... P5 120h); only "
                                 "with --skip sla (the SLA generator sets the real due times).")
        parser.add_argument("--chunk-size", type=int, default=10_000,
                            help="Tickets generated and written per transaction.")
        parser.add_argument("--no-reply-events", action="store_true",
                            help="Skip the reply/note audit event per message (faster).")
        parser.add_argument("--check-constraints", action="store_true",
                            help="PostgreSQL: keep foreign-key checks on while loading "
                                 "(slower; by default a superuser loads with them off).")
        parser.add_argument("--password", default=None,
                            help="Give every seeded user this password (default: unusable).")
        parser.add_argument("--now", default=None,
                            help="End of the generated period, ISO 8601, e.g. "
                                 "2026-12-01T00:00Z (default: this minute). With the same "
                                 "--seed and --now, the same data.")
        parser.add_argument("--skip", default="",
                            help="Comma-separated generators of other apps not to run "
                                 "(e.g. sla,knowledge; 'all' for tickets only). "
                                 "Registered: " + ", ".join(
                                     g.name for g in generators.registered()) + ".")

    def handle(self, *args, **opts) -> None:
        if opts["tickets"] < 0:
            raise CommandError("--tickets must be zero or more")
        if not 0 <= opts["open_share"] <= 0.5:
            raise CommandError("--open-share must be between 0 and 0.5")
        if opts["messages_per_ticket"] < 1:
            raise CommandError("--messages-per-ticket must be at least 1")
        now = None
        if opts["now"]:
            try:
                now = datetime.fromisoformat(opts["now"].replace("Z", "+00:00"))
            except ValueError as exc:
                raise CommandError(f"--now: {exc}") from exc
            if now.tzinfo is None:
                now = now.replace(tzinfo=UTC)
        options = SeedOptions(
            tickets=opts["tickets"], orgs=opts["orgs"], agents=opts["agents"],
            messages_per_ticket=opts["messages_per_ticket"], seed=opts["seed"],
            months=opts["months"], sla_due=opts["sla_due"], open_share=opts["open_share"],
            chunk_size=opts["chunk_size"], reply_events=not opts["no_reply_events"],
            password=opts["password"], fast_load=not opts["check_constraints"],
            skip=tuple(name.strip() for name in opts["skip"].split(",") if name.strip()),
            now=now,
        )
        verbose = opts["verbosity"] >= 1
        try:
            report = seed(options, log=self.stdout.write if verbose else None)
        except BulkLoadError as exc:
            raise CommandError(str(exc)) from exc
        if not verbose:
            return
        rate = report.rows / report.seconds if report.seconds else 0
        self.stdout.write(self.style.SUCCESS(
            f"Seeded {report.tickets:,} tickets ({report.open_tickets:,} open), "
            f"{report.messages:,} messages, {report.events:,} events, "
            f"{report.escalations:,} escalations, {report.ticket_tags:,} ticket tags, "
            f"{report.organizations:,} organizations, {report.customers:,} customers, "
            f"{report.staff:,} staff in {report.seconds:,.1f}s ({rate:,.0f} rows/s)."
        ))
        phases = ", ".join(f"{k} {v:,.1f}s" for k, v in report.phases.items())
        self.stdout.write(f"Phases: {phases}")
        if report.apps:
            # Generation on this thread plus writing its tables (on PostgreSQL partly in
            # parallel with the next chunk's generation, so these overlap).
            apps = ", ".join(f"{k} {v:,.1f}s" for k, v in report.apps.items())
            self.stdout.write(f"Per app (generate + write): {apps}")
        self.stdout.write("Rows per table:")
        for table, n in sorted(report.tables.items()):
            self.stdout.write(f"  {table:32s} {n:>12,}")

"""Benchmark of the django-helpdesk import: build a large source, import it, print figures.

    manage.py import_bench --tickets 100000 [--followups 3] [--reuse-source]

The source is a real django-helpdesk 2.6.1 schema (its own migrations, in a throw-away
virtual environment) filled with COPY (importers.benchmark): a PostgreSQL database next to
this one when DATABASE_URL is PostgreSQL, else a SQLite file. The import goes into the
current database: use a dedicated one. Not part of the test suite.
"""
from __future__ import annotations

import resource
import time
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

from ...benchmark import generate
from ...dh_env import DjangoHelpdesk, cache_dir
from ...loader import Loader, Options
from ...progress import summary_lines
from ...sources.django_helpdesk import DjangoHelpdeskSource


def _source_location(tickets: int) -> tuple[str, bool]:
    """Where the source goes, and whether it already exists."""
    name = f"dh_bench_{tickets}"
    if connection.vendor == "postgresql":
        db = settings.DATABASES["default"]
        url = urlunsplit(("postgres", f"{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
                          f"{db['PORT'] or 5432}", f"/{name}", "", ""))
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            return url, cursor.fetchone() is not None
    path = cache_dir() / "bench" / f"{name}.sqlite3"
    return str(path), path.exists()


class Command(BaseCommand):
    help = "Generate a django-helpdesk database of N tickets and time importing it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tickets", type=int, default=100_000)
        parser.add_argument("--followups", type=int, default=3,
                            help="Follow-ups per ticket, the opening one included.")
        parser.add_argument("--reuse-source", action="store_true",
                            help="Import the source built by an earlier run as it is.")
        parser.add_argument("--chunk-size", type=int, default=2000)
        parser.add_argument("--fast-load", action="store_true",
                            help="Import with foreign-key checks off (PostgreSQL superuser).")

    def handle(self, *args, tickets: int, followups: int, reuse_source: bool,
               chunk_size: int, fast_load: bool, **options) -> None:
        location, exists = _source_location(tickets)
        if not (exists and reuse_source):
            self._build(location, tickets, followups)
        source = DjangoHelpdeskSource(location)
        loader = Loader(source, Options(name=f"bench-{tickets}", chunk_size=chunk_size,
                                        fast_load=fast_load), out=self.stdout.write)
        began = time.perf_counter()
        run = loader.run()
        elapsed = time.perf_counter() - began
        counts = run.counts
        rows = sum(counts.get(k, {}).get("new", 0)
                   for k in ("tickets", "messages", "audit events", "users"))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.stdout.write(f"Imported {tickets:,} tickets in {elapsed:.1f}s: "
                          f"{counts.get('tickets', {}).get('new', 0) / elapsed:,.0f} tickets/s,"
                          f" {rows / elapsed:,.0f} rows/s; peak memory {peak:,.0f} MB "
                          f"({connection.vendor})")
        for line in summary_lines(counts):
            self.stdout.write(line)
        self.stdout.write("Time by stage (on PostgreSQL writing overlaps reading and building): "
                          + ", ".join(
            f"{stage} {seconds:.1f}s" for stage, seconds in loader.timings.items()))
        self.stdout.write("Writing by table: " + ", ".join(
            f"{table} {seconds:.1f}s" for table, seconds in
            sorted(loader.writer.seconds.items(), key=lambda kv: -kv[1])))

    def _build(self, location: str, tickets: int, followups: int) -> None:
        began = time.perf_counter()
        if location.startswith("postgres"):
            name = urlsplit(location).path.lstrip("/")
            with connection.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
                cursor.execute(f'CREATE DATABASE "{name}"')
            dh = DjangoHelpdesk.create(cache_dir() / "bench" / name, database=location)
        else:
            from pathlib import Path

            Path(location).unlink(missing_ok=True)
            dh = DjangoHelpdesk.create(Path(location).parent, database=location)
        dh.migrate()
        self.stdout.write(f"django-helpdesk {location} migrated with its own code in "
                          f"{time.perf_counter() - began:.1f}s; generating {tickets:,} tickets…")
        counts = generate(location, tickets=tickets, followups=followups,
                          log=self.stdout.write)
        self.stdout.write(f"Source ready in {time.perf_counter() - began:.1f}s: " + ", ".join(
            f"{table} {n:,}" for table, n in counts.items()))

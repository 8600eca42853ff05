"""Time every page a user opens on the current database (see devdata.pages).

    manage.py bench_pages [--iterations 30] [--cold 5] [--only admin] [--markdown]

Run it against a seeded database (`seed_data`). Not part of the test suite.
"""
from __future__ import annotations

import json
import platform
import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.utils import timezone

from devdata import pages as bench
from tickets.models import Ticket

WARM_P95_MS = 150.0
COLD_P95_MS = 500.0
ADMIN_P95_MS = 300.0


class Command(BaseCommand):
    help = ("Measure p50/p95/max latency, queries and SQL time of every page a user opens "
            "(agent, portal, help center, SLA, metrics, workforce, QA, incidents, casework, "
            "admin change lists, API), warm and with caches cleared.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--iterations", type=int, default=30,
                            help="Warm requests measured per page (default 30).")
        parser.add_argument("--warmup", type=int, default=3,
                            help="Unmeasured requests before the warm ones (default 3).")
        parser.add_argument("--cold", type=int, default=5,
                            help="Requests each after clearing the caches (default 5).")
        parser.add_argument("--only", action="append", default=[],
                            help="Only pages whose area or label contains this (repeatable).")
        parser.add_argument("--markdown", action="store_true",
                            help="Also print the table as Markdown (for the README).")
        parser.add_argument("--json", dest="json_path", default=None,
                            help="Write the figures to this file as JSON.")

    def handle(self, *args, **opts) -> None:
        if opts["iterations"] < 1 or opts["warmup"] < 0 or opts["cold"] < 0:
            raise CommandError("--iterations must be at least 1, --warmup and --cold >= 0")
        if not Ticket.objects.exists():
            raise CommandError("No tickets: seed first (manage.py seed_data or demo).")
        started = time.perf_counter()
        ctx = bench.pick_users()
        catalogue = bench.catalogue(ctx)
        if opts["only"]:
            wanted = [w.lower() for w in opts["only"]]
            catalogue = [p for p in catalogue
                         if any(w in f"{p.area} {p.label}".lower() for w in wanted)]
        self.stdout.write(self._machine())
        self.stdout.write(f"Data: {bench.data_summary()}")
        self.stdout.write(
            f"{len(catalogue)} pages; per page {opts['cold']} cold request(s) (caches "
            f"cleared, new connection), {opts['warmup']} warm-up, {opts['iterations']} warm; "
            f"setup {time.perf_counter() - started:.1f}s")
        progress = self.stdout.write if opts["verbosity"] >= 2 else None
        results = bench.run(catalogue, ctx, iterations=opts["iterations"],
                            warmup=opts["warmup"], cold=opts["cold"], progress=progress)
        self.stdout.write("")
        for line in bench.table(results):
            self.stdout.write(line)
        if opts["markdown"]:
            self.stdout.write("")
            for line in bench.table(results, markdown=True):
                self.stdout.write(line)
        if opts["verbosity"] >= 1:
            self.stdout.write("")
            self.stdout.write("Slowest single query per page (warm or cold):")
            for t in results:
                row = t.row()
                if row.get("slowest_sql"):
                    self.stdout.write(f"  {t.page.area} / {t.page.label}: "
                                      f"{row['slowest_sql_ms']:.1f} ms  "
                                      f"{row['slowest_sql'][:240]}")
        missed = bench.misses(results, warm_p95=WARM_P95_MS, cold_p95=COLD_P95_MS,
                              admin_p95=ADMIN_P95_MS)
        self.stdout.write("")
        if missed:
            self.stdout.write(self.style.WARNING(
                f"Over target (warm p95 {WARM_P95_MS:.0f} ms, admin {ADMIN_P95_MS:.0f} ms, "
                f"cold p95 {COLD_P95_MS:.0f} ms):"))
            for line in missed:
                self.stdout.write(f"  {line}")
        else:
            self.stdout.write(self.style.SUCCESS("Every measured page within its targets."))
        self.stdout.write(f"Total {time.perf_counter() - started:.0f}s.")
        if opts["json_path"]:
            with open(opts["json_path"], "w", encoding="utf-8") as fh:
                json.dump({"machine": self._machine(), "data": bench.data_summary(),
                           "pages": [t.row() for t in results]}, fh, indent=1, default=str)

    @staticmethod
    def _machine() -> str:
        import os
        db = connection.vendor
        if db == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SHOW server_version")
                db = f"PostgreSQL {cur.fetchone()[0].split()[0]}"
        return (f"{timezone.now():%Y-%m-%d %H:%M} UTC on {platform.system()} "
                f"{platform.release()}, {os.cpu_count()} cores, Python "
                f"{platform.python_version()}, {db} ({connection.settings_dict.get('NAME')})")

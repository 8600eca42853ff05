"""(Re)build the hourly rollup behind the manager dashboard.

    manage.py rebuild_metrics [--days 120]

Run once after installing or importing history; afterwards Celery keeps it current
(every five minutes for touched hours, nightly for the whole window).
"""
from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandParser

from reporting import rollups


class Command(BaseCommand):
    help = "Recompute the hourly metrics rollup over the last N days."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=120)

    def handle(self, *args, days: int, **options) -> None:
        if days < 1:
            self.stderr.write("--days must be at least 1.")
            return
        began = time.perf_counter()
        rows = rollups.rebuild(days)
        self.stdout.write(f"Metrics rollup: {rows} hour×team rows over {days} days "
                          f"in {time.perf_counter() - began:.1f}s")

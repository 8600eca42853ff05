"""(Re)build the hourly rollup behind the casework dashboard.

    manage.py rebuild_casework_rollup [--days 120]

Run once after installing or importing history; afterwards Celery keeps it current.
"""
from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandParser

from casework import rollup


class Command(BaseCommand):
    help = "Recompute the hourly casework dashboard rollup over the last N days."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=120)

    def handle(self, *args, days: int, **options) -> None:
        if days < 1:
            self.stderr.write("--days must be at least 1.")
            return
        began = time.perf_counter()
        rows = rollup.rebuild(days)
        self.stdout.write(f"Casework rollup: {rows} hour×team×category rows over {days} days "
                          f"in {time.perf_counter() - began:.1f}s")

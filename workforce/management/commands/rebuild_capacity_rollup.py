"""Recompute the capacity page's rollups (`workforce.rollup`) over the last N days.

    manage.py rebuild_capacity_rollup [--days 190]

Run once after installing or importing history; afterwards Celery keeps them current.
"""
from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandParser

from workforce import rollup


class Command(BaseCommand):
    help = "Recompute the capacity rollups (ArrivalHour, HandleDay) over the last N days."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=rollup.DEFAULT_DAYS,
                            help=f"Days before today (default {rollup.DEFAULT_DAYS}).")

    def handle(self, *args, **opts) -> None:
        if opts["days"] < 1:
            self.stderr.write("--days must be at least 1.")
            return
        started = time.perf_counter()
        rows = rollup.rebuild(opts["days"])
        self.stdout.write(f"Capacity rollup: {opts['days']} days, {rows:,} rows in "
                          f"{time.perf_counter() - started:.1f} s")

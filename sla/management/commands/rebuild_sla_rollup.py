"""Recompute the SLA dashboard's daily rollup (`sla.rollup`) over the last N days."""
from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandParser

from sla import rollup
from sla.models import ClockDay


class Command(BaseCommand):
    help = "Recompute the SLA dashboard's daily rollup (ClockDay) over the last N days."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=rollup.DEFAULT_DAYS,
                            help=f"Days before today (default {rollup.DEFAULT_DAYS}).")

    def handle(self, *args, **opts) -> None:
        started = time.perf_counter()
        rows = rollup.rebuild(opts["days"])
        self.stdout.write(f"SLA rollup: {opts['days']} days, {rows:,} rows "
                          f"({ClockDay.objects.count():,} stored) in "
                          f"{time.perf_counter() - started:.1f} s")

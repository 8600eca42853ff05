"""Correct SLA clocks recorded as met or exempt although their used time reached a target.

    manage.py sla_repair_clocks [--dry-run]

Clocks re-targeted while paused (priority, tier, tags or team changed while the ticket
waited) were never marked breached before the clock services learnt to; resolved, they
read "met" or "stopped". This finds them from their own history (see
sla.services.repair), records the breach (and the missed internal goal) with a
"corrected" event saying why, and refreshes the manager dashboard's rollup hours they
count in. Safe to run again: a corrected clock is never corrected twice.
"""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from sla.services.repair import RepairReport, repair_clocks


class Command(BaseCommand):
    help = ("Correct SLA clocks recorded as met or exempt although their business time used "
            "had reached a target they had (each with a 'corrected' clock event).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true",
                            help="Count what would be corrected; change nothing.")
        parser.add_argument("--batch-size", type=int, default=500,
                            help="Clocks between progress lines (default 500).")

    def handle(self, *args, **opts) -> None:
        def progress(report: RepairReport) -> None:
            self.stdout.write(f"  ... {report.examined} examined, {report.corrected} to correct")

        report = repair_clocks(dry_run=opts["dry_run"], batch_size=max(1, opts["batch_size"]),
                               progress=progress)
        if opts["dry_run"]:
            self.stdout.write("Dry run: nothing written.")
        for line in report.lines():
            self.stdout.write(line)

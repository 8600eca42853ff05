"""Purge what is past its retention period now; --dry-run only counts."""
from django.core.management.base import BaseCommand

from privacy.retention import apply_retention


class Command(BaseCommand):
    help = "Purge raw e-mail, attachments and closed tickets' text past their retention."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Count, change nothing.")
        parser.add_argument("--batch", type=int, default=None)

    def handle(self, *args, dry_run: bool = False, batch: int | None = None, **options):
        run = apply_retention(dry_run=dry_run, batch=batch)
        verb = "would purge" if dry_run else "purged"
        self.stdout.write(f"{verb}: {run.raw_emails} raw e-mails, {run.attachments} "
                          f"attachments, {run.tickets} closed tickets' conversations")

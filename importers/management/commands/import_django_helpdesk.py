"""Import a django-helpdesk (2.x) database: people, queues, tickets, knowledge base.

    manage.py import_django_helpdesk --from postgres://user@host/db [--media-root DIR]
    manage.py import_django_helpdesk --from /path/to/db.sqlite3 [--media-root DIR]

Reads the database read-only with SQL. Run it again at any time: only what is new or
changed is imported, and an interrupted run resumes where it stopped.
"""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tickets.state_machine import Status

from ...commandline import add_common_arguments, parse_pairs, run_import
from ...sources import SourceError
from ...sources.django_helpdesk import DjangoHelpdeskSource


class Command(BaseCommand):
    help = "Import tickets, people, queues and the knowledge base of a django-helpdesk database."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="location", required=True,
                            help="postgres://… URL or the path of a SQLite file.")
        parser.add_argument("--media-root",
                            help="django-helpdesk's MEDIA_ROOT, where its attachments are.")
        parser.add_argument("--map-status", action="append", default=[], metavar="N=STATUS",
                            help="A custom django-helpdesk status number and the status it "
                                 f"becomes here ({', '.join(s.value for s in Status)}).")
        parser.add_argument("--user-table", default="auth_user",
                            help="The source's user table when it has a custom user model.")
        add_common_arguments(parser)

    def handle(self, *args, **options) -> None:
        statuses = {}
        for number, status in parse_pairs(options["map_status"], "--map-status").items():
            if not number.isdigit() or status not in Status:
                raise CommandError(f"--map-status {number}={status}: a number and one of "
                                   f"{', '.join(s.value for s in Status)}.")
            statuses[int(number)] = status
        try:
            source = DjangoHelpdeskSource(options["location"], media_root=options["media_root"],
                                          user_table=options["user_table"], status_map=statuses)
        except SourceError as exc:
            raise CommandError(str(exc)) from exc
        run_import(self, source, options)

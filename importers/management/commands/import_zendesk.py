"""Import a Zendesk export: users, organizations, groups, tickets with their comments and
attachments, and Guide articles, from the JSON pages of Zendesk's APIs.

    manage.py import_zendesk --from DIR

See importers/sources/zendesk.py for the pages it reads. Run it again at any time: only
what is new or changed is imported, and an interrupted run resumes where it stopped.
"""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...commandline import add_common_arguments, run_import
from ...sources import SourceError
from ...sources.zendesk import ZendeskSource


class Command(BaseCommand):
    help = "Import a Zendesk export (JSON pages of its APIs, one file per page)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="location", required=True,
                            help="The folder holding the export's JSON pages.")
        add_common_arguments(parser)

    def handle(self, *args, **options) -> None:
        try:
            source = ZendeskSource(options["location"])
        except SourceError as exc:
            raise CommandError(str(exc)) from exc
        run_import(self, source, options)

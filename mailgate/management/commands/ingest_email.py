"""Ingest one raw message from standard input (for an MTA pipe), e.g.

    manage.py ingest_email --mailbox support < message.eml
"""
from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from mailgate import services
from mailgate.models import Mailbox


class Command(BaseCommand):
    help = "Ingest one raw RFC 5322 message read from standard input."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--mailbox", required=True, help="Mailbox name.")

    def handle(self, *args: Any, **options: Any) -> None:
        mailbox = Mailbox.objects.filter(name=options["mailbox"]).first()
        if mailbox is None:
            raise CommandError(f"No mailbox named {options['mailbox']!r}.")
        if not mailbox.is_active:  # as the webhook: an inactive mailbox takes no mail
            raise CommandError(f"The mailbox {mailbox.name!r} is inactive; nothing was "
                               "stored. Activate it in the admin first.")
        raw = sys.stdin.buffer.read(services.max_message_bytes() + 1)
        result = services.ingest(raw, mailbox)
        ticket = result.ticket
        where = f" ticket #{ticket.pk}" if ticket else ""
        self.stdout.write(f"{result.status}{' (duplicate)' if result.duplicate else ''}{where}")

"""Demo data of the mailgate app, added by `manage.py demo` after tickets and accounts exist."""
from __future__ import annotations

from typing import TextIO

from .models import Mailbox


def seed_demo(stdout: TextIO) -> None:
    """Idempotent: a second run changes nothing. The mailbox is inactive and has no
    secret: it shows admins what a configuration looks like."""
    _, created = Mailbox.objects.get_or_create(
        name="support",
        defaults={
            "address": "support@helpdesk.localhost",
            "imap_host": "imap.example.com", "imap_port": 993, "imap_tls": True,
            "username": "support@helpdesk.localhost",
            "password_env": "MAILGATE_SUPPORT_IMAP_PASSWORD",
            "webhook_token_env": "MAILGATE_SUPPORT_WEBHOOK_TOKEN",
            "is_active": False,
        },
    )
    if created:
        stdout.write("Demo mailbox 'support' (inactive; set its environment variables to use it)\n")

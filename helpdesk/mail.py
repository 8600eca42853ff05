"""Building outgoing e-mail: one function, extended by hooks (e.g. the email channel).

`build_email` gives every message a Message-ID and a text and an HTML part. Apps above
`tickets` register hooks that add threading headers, a Reply-To or a templated HTML
part; `helpdesk` and `tickets` never import them.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils.crypto import salted_hmac
from django.utils.html import escape, linebreaks


@dataclass
class OutgoingMail:
    """What a hook may read and change before the message is built."""

    kind: str  # "notification", "survey", ...
    key: str  # unique per e-mail, e.g. "survey:12": a stable Message-ID comes from it
    subject: str
    text: str
    to: list[str]
    html: str = ""
    ticket_id: int | None = None
    context: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    reply_to: list[str] = field(default_factory=list)
    from_email: str | None = None


Hook = Callable[[OutgoingMail], None]
_hooks: list[Hook] = []


def register(hook: Hook) -> None:
    if hook not in _hooks:
        _hooks.append(hook)


def unregister(hook: Hook) -> None:
    if hook in _hooks:
        _hooks.remove(hook)


def mail_domain() -> str:
    return (settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(" >") or "localhost")


def stable_message_id(key: str) -> str:
    """The same key gives the same Message-ID, so a resend is recognisably the same mail.
    Keyed with the secret: the ids of others' mail cannot be worked out from their keys
    (a forged bounce naming one could otherwise hold someone's mail)."""
    digest = salted_hmac("helpdesk.mail.message-id", key, algorithm="sha256").hexdigest()[:24]
    return f"<hd.{digest}@{mail_domain()}>"


def build_email(*, kind: str, key: str, subject: str, text: str, to: list[str],
                html: str = "", ticket_id: int | None = None,
                context: dict[str, Any] | None = None) -> EmailMultiAlternatives:
    mail = OutgoingMail(kind=kind, key=key, subject=subject, text=text, to=list(to),
                        html=html, ticket_id=ticket_id, context=dict(context or {}))
    mail.headers["Message-ID"] = stable_message_id(key)
    for hook in list(_hooks):
        hook(mail)
    message = EmailMultiAlternatives(
        mail.subject, mail.text, mail.from_email, mail.to, headers=mail.headers,
        reply_to=mail.reply_to or None,
    )
    message.attach_alternative(mail.html or linebreaks(escape(mail.text)), "text/html")
    return message

"""Reactions to ticket events: an agent's public reply on a mail ticket goes out by e-mail."""
from __future__ import annotations

from tickets import events

from . import outbound


def on_public_reply(event: events.PublicReply) -> None:
    if event.by_agent:
        outbound.queue_reply(event.message_id)


def connect() -> None:
    events.subscribe(events.PublicReply, on_public_reply)

"""Who else has a ticket open, and who is typing: kept in the cache, never in the database.

Each open ticket page calls `touch` on its poll (every POLL_SECONDS). An entry lives
SEEN_TTL seconds past its last poll, so a closed tab drops out within one TTL; "typing"
holds TYPING_TTL seconds past the last keystroke the page reported. With a per-process
cache (the embedded default with one process) it shows the agents of that process; with
Redis, everyone's.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.utils import timezone

POLL_SECONDS = 5
SEEN_TTL = 15
TYPING_TTL = 8


@dataclass(frozen=True)
class Viewer:
    user_id: int
    name: str
    typing: bool


def _key(ticket_id: int) -> str:
    return f"presence:ticket:{ticket_id}"


def touch(ticket_id: int, *, user_id: int, name: str, typing: bool,
          now: datetime | None = None) -> list[Viewer]:
    """Record that `user_id` has the ticket open (typing or not); return the others
    who have it open now, typing ones first."""
    now = now or timezone.now()
    key = _key(ticket_id)
    entries: dict[int, tuple[str, float, float]] = cache.get(key) or {}
    stamp = now.timestamp()
    _, _, typed = entries.get(user_id, (name, stamp, 0.0))
    entries[user_id] = (name, stamp, stamp if typing else typed)
    fresh = {uid: e for uid, e in entries.items() if stamp - e[1] <= SEEN_TTL}
    # Read-modify-write without a lock: two polls at the same instant may drop one entry
    # until that viewer's next poll, five seconds later. Not worth a lock.
    cache.set(key, fresh, SEEN_TTL * 2)
    others = [Viewer(uid, n, stamp - t <= TYPING_TTL)
              for uid, (n, _, t) in fresh.items() if uid != user_id]
    return sorted(others, key=lambda v: (not v.typing, v.name))


def leave(ticket_id: int, *, user_id: int) -> None:
    entries = cache.get(_key(ticket_id)) or {}
    if entries.pop(user_id, None) is not None:
        cache.set(_key(ticket_id), entries, SEEN_TTL * 2)


def parse_seen(value: str) -> datetime | None:
    """The ticket version (updated_at, ISO 8601) a page was rendered from, or None."""
    try:
        seen = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return seen if seen.tzinfo else None


"""Webhooks: signed JSON POSTs of helpdesk events to the endpoints admins configure.

Apps above call `publish` (or the one-line helpers below) where something happens;
ticket events arrive through `tickets.events` (see `webhooks.handlers`).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any


def publish(event_type: str, build: Callable[[], dict | None], *, key: str,
            occurred_at: datetime) -> None:
    """After commit, send `build()` to every active endpoint that wants `event_type`."""
    from .publishing import publish as _publish  # this package loads before the app registry

    _publish(event_type, build, key=key, occurred_at=occurred_at)


def sla_level_reached(clock: Any, level: Any, *, at: datetime) -> None:
    """An SLA clock (`sla.Clock`) reached a warning or breach level (`sla.Level`)."""
    from .payloads import sla_level

    publish("sla.level_reached", lambda: sla_level(clock, level, at),
            key=f"clock:{clock.pk}:{level.percent}", occurred_at=at)


def incident_updated(update: Any) -> None:
    """An incident's public update or resolution (`incidents.PublicUpdate`) was posted."""
    from .payloads import incident_update

    publish("incident.updated", lambda: incident_update(update),
            key=f"update:{update.pk}", occurred_at=update.created_at)

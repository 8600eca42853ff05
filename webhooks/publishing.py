"""Publishing an event: after commit, one Delivery row per interested endpoint, each sent
by a Celery task. The event id is derived from what happened (`key`), so an event
dispatched twice maps to the same id and the unique (endpoint, event) row sends it once."""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from . import tasks
from .delivery import body_of
from .models import Delivery, Endpoint, EventType
from .subscriptions import subscriptions

logger = logging.getLogger(__name__)

_NAMESPACE = uuid.UUID("5b0f6c43-6a4e-4f53-9d8e-0c1b2f6f7a10")


def event_id(event_type: str, key: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"{event_type}|{key}")


def publish(event_type: str, build: Callable[[], dict | None], *, key: str,
            occurred_at: datetime) -> None:
    """Send `build()` (the payload's `data`) to the endpoints that want `event_type`, once
    the current transaction commits. `key` names the occurrence (e.g. "clock 7 at 75%").

    Nothing is built or queried before commit, and nothing at all when no endpoint
    wants the event type beyond one small query.
    """
    if event_type not in EventType.values:
        raise ValueError(f"Unknown webhook event type {event_type!r}")
    transaction.on_commit(lambda: fan_out(event_type, build, key=key, occurred_at=occurred_at),
                          robust=True)


def send_to(endpoint_id: int, event_type: str, build: Callable[[], dict | None], *,
            key: str, occurred_at: datetime) -> None:
    """`publish` to one endpoint a rule names, whatever events it subscribed to (a
    trigger's "call a webhook"): signed, retried and logged like every delivery."""
    if event_type not in EventType.values:
        raise ValueError(f"Unknown webhook event type {event_type!r}")
    transaction.on_commit(lambda: fan_out(event_type, build, key=key, occurred_at=occurred_at,
                                          only=endpoint_id), robust=True)


def fan_out(event_type: str, build: Callable[[], dict | None], *, key: str,
            occurred_at: datetime, only: int | None = None) -> list[Delivery]:
    """Create the deliveries of one event (those that exist are left alone) and queue them
    (`only`: to that active endpoint alone)."""
    if only is not None:
        endpoints = list(Endpoint.objects.filter(pk=only, is_active=True))
    else:
        wanted = [pk for pk, events in subscriptions() if event_type in events]
        if not wanted:
            return []
        endpoints = [e for e in Endpoint.objects.filter(pk__in=wanted) if e.wants(event_type)]
    if not endpoints:
        return []
    data = build()
    if data is None:  # the object is gone
        return []
    eid = event_id(event_type, key)
    body = body_of(str(eid), event_type, occurred_at, data)
    now = timezone.now()
    created: list[Delivery] = []
    for endpoint in endpoints:
        try:
            with transaction.atomic():
                delivery, is_new = Delivery.objects.get_or_create(
                    endpoint=endpoint, event_id=eid,
                    defaults={"event_type": event_type, "body": body, "created_at": now,
                              "next_attempt_at": now})
        except IntegrityError:  # the same event fanned out at the same moment elsewhere
            continue
        if is_new:
            created.append(delivery)
    for delivery in created:
        _queue(delivery.pk)
    return created


def _queue(delivery_id: int) -> None:
    # robust: a broker that is down must not fail the caller; the retry scan sends it.
    transaction.on_commit(lambda: tasks.deliver.delay(delivery_id), robust=True)


def redeliver(deliveries: list[Delivery]) -> int:
    """Send again now (admin action): same body, same event id, next attempt number."""
    now = timezone.now()
    ids = [d.pk for d in deliveries]
    Delivery.objects.filter(pk__in=ids).update(status=Delivery.Status.PENDING,
                                               next_attempt_at=now)
    for pk in ids:
        _queue(pk)
    return len(ids)

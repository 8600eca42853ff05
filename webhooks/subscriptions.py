"""Which active endpoint wants which events, cached so that an event nobody subscribed to
costs no query. Saving or deleting an endpoint forgets it (signals; `delivery.disable`
too, as it updates in bulk); the timeout bounds staleness where the cache is per process
(the embedded LocMem default)."""
from __future__ import annotations

from django.core.cache import cache

from .models import Endpoint

SUBSCRIPTIONS_KEY = "webhooks:subscriptions"
SUBSCRIPTIONS_TTL = 60


def subscriptions() -> list[tuple[int, list[str]]]:
    cached = cache.get(SUBSCRIPTIONS_KEY)
    if cached is None:
        cached = [(pk, list(events or [])) for pk, events in
                  Endpoint.objects.filter(is_active=True).values_list("pk", "events")]
        cache.set(SUBSCRIPTIONS_KEY, cached, SUBSCRIPTIONS_TTL)
    return cached


def forget_subscriptions(*args: object, **kwargs: object) -> None:
    cache.delete(SUBSCRIPTIONS_KEY)

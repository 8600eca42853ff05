"""Per-client throttling, web and API alike, keyed by one client address.

Public forms (log-in failures, sign-ups, searches, votes, the status page) count in the
cache here; the API's throttles are DRF's, told the same address. `client_ip` is the only
place that reads `X-Forwarded-For`, and only as far as TRUSTED_PROXY_COUNT allows: an
address a client writes into the header itself never becomes its identity.
"""
from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from rest_framework import throttling


def client_ip(request: HttpRequest) -> str:
    """The client address; behind N trusted proxies, the Nth address from the right (the
    one the outermost trusted proxy saw); without trusted proxies, the socket's peer."""
    proxies = settings.HELPDESK_TRUSTED_PROXY_COUNT
    if proxies:
        chain = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
                 if a.strip()]
        if len(chain) >= proxies:
            return chain[-proxies]
    return request.META.get("REMOTE_ADDR", "unknown")


def _key(scope: str, request: HttpRequest) -> str:
    return f"throttle:{scope}:{client_ip(request)}"


def exceeded(scope: str, request: HttpRequest, limit: int) -> bool:
    return cache.get(_key(scope, request), 0) >= limit


def hit(scope: str, request: HttpRequest, *, window: int = 60) -> None:
    key = _key(scope, request)
    cache.add(key, 0, timeout=window)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)


# --- the API (DRF) ----------------------------------------------------------------------

class ClientAddressThrottle(throttling.SimpleRateThrottle):
    """A DRF throttle that knows clients by `client_ip` (DRF's own `get_ident` believes
    `X-Forwarded-For` whenever NUM_PROXIES is unset: one header per request, no limit)."""

    def get_ident(self, request) -> str:
        return client_ip(request)


class AnonRateThrottle(ClientAddressThrottle, throttling.AnonRateThrottle):
    """Anonymous API calls per client address."""


class UserRateThrottle(ClientAddressThrottle, throttling.UserRateThrottle):
    """API calls per user (per client address before log-in)."""

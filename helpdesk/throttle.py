"""Per-client counters for public forms (log-in failures, sign-ups), kept in the cache."""
from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The client address; behind N trusted proxies, the Nth address from the right."""
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

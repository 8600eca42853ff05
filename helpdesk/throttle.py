"""Per-client throttling, web and API alike, keyed by one client address.

Public forms (log-in failures, sign-ups, searches, votes, the status page) count in the
cache here; the API's throttles are DRF's, told the same address. `client_ip` is the only
place that reads `X-Forwarded-For`, and only as far as TRUSTED_PROXY_COUNT allows: an
address a client writes into the header itself never becomes its identity.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
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

@dataclass(frozen=True)
class RateLimit:
    """What a client has left of its tightest API throttle."""

    limit: int
    remaining: int


def _note(request: HttpRequest, found: RateLimit) -> None:
    """Keep the tightest of the throttles a request passed through, for its headers."""
    current = getattr(request, "rate_limit", None)
    if current is None or found.remaining < current.remaining:
        request.rate_limit = found


class ClientAddressThrottle(throttling.SimpleRateThrottle):
    """A DRF throttle that knows clients by `client_ip` (DRF's own `get_ident` believes
    `X-Forwarded-For` whenever NUM_PROXIES is unset: one header per request, no limit),
    and tells `RateLimitHeadersMiddleware` what is left."""

    def get_ident(self, request) -> str:
        return client_ip(request)

    def allow_request(self, request, view) -> bool:
        allowed = super().allow_request(request, view)
        if getattr(self, "key", None) is not None:  # this throttle applies to the caller
            used = len(self.history) if allowed else self.num_requests
            _note(request._request, RateLimit(self.num_requests,
                                              max(0, self.num_requests - used)))
        return allowed

    def peek(self, request: HttpRequest) -> RateLimit | None:
        """The state for a request that was answered before the throttles ran (a 401,
        a 403 from a permission class, a 404 for an unknown URL); nothing is counted."""
        key = self.get_cache_key(request, None)
        if self.rate is None or key is None:
            return None
        now = self.timer()
        history = [t for t in self.cache.get(key, []) if t > now - self.duration]
        return RateLimit(self.num_requests, max(0, self.num_requests - len(history)))


class AnonRateThrottle(ClientAddressThrottle, throttling.AnonRateThrottle):
    """Anonymous API calls per client address."""


class UserRateThrottle(ClientAddressThrottle, throttling.UserRateThrottle):
    """API calls per user (per client address before log-in)."""


API_PREFIX = "/api/"


class RateLimitHeadersMiddleware:
    """`X-RateLimit-Limit` and `X-RateLimit-Remaining` on every API response (the tightest
    throttle that applies to the caller); DRF adds `Retry-After` to its 429s."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(API_PREFIX):
            return response
        found = getattr(request, "rate_limit", None)
        if found is None:
            for throttle in (AnonRateThrottle(), UserRateThrottle()):
                peeked = throttle.peek(request)
                if peeked is not None and (found is None
                                           or peeked.remaining < found.remaining):
                    found = peeked
        if found is not None:
            response["X-RateLimit-Limit"] = str(found.limit)
            response["X-RateLimit-Remaining"] = str(found.remaining)
        return response

"""The signature of a webhook body: HMAC-SHA256 over "<timestamp>.<raw body>" (no Django).

Header: `X-Helpdesk-Signature: t=<unix seconds>,v1=<hex digest>`. The timestamp is
signed with the body, so a captured request replayed later than `tolerance` fails.
"""
from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Helpdesk-Signature"
TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def header_value(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, *, now: float,
           tolerance: int = TOLERANCE_SECONDS) -> bool:
    """What a receiver does: recompute, compare in constant time, refuse stale stamps."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(given, signature(secret, timestamp, body))

"""Sending a delivery: one signed POST per attempt, the attempt log, backoff, auto-disable.

At-least-once: a delivery stays pending with a due `next_attempt_at` until a receiver
answers 2xx; the retry scan (beat) picks up whatever is due, including deliveries whose
worker died mid-attempt (the attempt leases the row until its timeout has passed).
Receivers deduplicate on the Idempotency-Key header (the event id).
"""
from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.notifications import in_language_of, notify
from helpdesk.roles import Role

from . import signing
from .models import Attempt, Delivery, Endpoint
from .subscriptions import forget_subscriptions

logger = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=1)
# A failing endpoint is disabled after a day (about 30 attempts); this bound is for one
# delivery that keeps failing while its endpoint answers others (a payload it rejects).
MAX_ATTEMPTS = 40
DISABLE_AFTER = timedelta(days=1)
EXCERPT_LENGTH = 500
NOTIFICATION_SOURCE = "webhooks.disabled"
USER_AGENT = "helpdesk-webhooks/1"


def backoff(attempt_number: int) -> timedelta:
    """Wait after the n-th failed attempt: 1, 2, 4, 8... minutes, at most an hour."""
    return min(BACKOFF_BASE * 2 ** (attempt_number - 1), BACKOFF_CAP)


@dataclass
class Outcome:
    status_code: int | None
    latency_ms: int
    excerpt: str
    error: str

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect is an answer, not a new destination: the signed body goes to one URL.
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def headers_for(delivery: Delivery, *, timestamp: int) -> dict[str, str]:
    body = delivery.body.encode()
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Idempotency-Key": str(delivery.event_id),
        "X-Helpdesk-Event": delivery.event_type,
        signing.HEADER: signing.header_value(delivery.endpoint.secret, timestamp, body),
    }


def post(delivery: Delivery, *, now: datetime) -> Outcome:
    endpoint = delivery.endpoint
    if not endpoint.url.lower().startswith(("http://", "https://")):
        return Outcome(None, 0, "", "Only http and https URLs are supported.")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        endpoint.url, data=delivery.body.encode(), method="POST",
        headers=headers_for(delivery, timestamp=int(now.timestamp())))
    started = time.monotonic()
    code: int | None = None
    excerpt = error = ""
    try:
        with _opener.open(request, timeout=endpoint.timeout_seconds) as response:
            code = response.status
            excerpt = response.read(EXCERPT_LENGTH).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        code = exc.code
        excerpt = exc.read(EXCERPT_LENGTH).decode("utf-8", "replace")
        error = f"HTTP {exc.code}"
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        # refused, DNS, TLS, timeout (an OSError), a garbled answer, an unusable URL
        reason = getattr(exc, "reason", exc)
        error = f"{type(reason).__name__}: {reason}"[:500]
    latency = int((time.monotonic() - started) * 1000)
    return Outcome(code, latency, excerpt[:EXCERPT_LENGTH], error)


def _claim(delivery_id: int, now: datetime) -> tuple[Delivery, int] | None:
    """Take the next attempt of a due delivery; None if it is not due (or not ours)."""
    with transaction.atomic():
        delivery = (Delivery.objects.select_for_update().select_related("endpoint")
                    .filter(pk=delivery_id).first())
        if (delivery is None or delivery.status != Delivery.Status.PENDING
                or not delivery.endpoint.is_active
                or delivery.next_attempt_at is None or delivery.next_attempt_at > now):
            return None
        delivery.attempts += 1
        # The lease: a second task or the scan leaves it alone while this one sends.
        lease = timedelta(seconds=delivery.endpoint.timeout_seconds) + timedelta(minutes=1)
        delivery.next_attempt_at = now + lease
        delivery.save(update_fields=["attempts", "next_attempt_at"])
        return delivery, delivery.attempts


def attempt(delivery_id: int) -> Attempt | None:
    """One attempt of a due delivery, logged; None when it was not due."""
    now = timezone.now()
    claimed = _claim(delivery_id, now)
    if claimed is None:
        return None
    delivery, number = claimed
    outcome = post(delivery, now=now)
    return _record(delivery, number, outcome, now=now)


def _record(delivery: Delivery, number: int, outcome: Outcome, *, now: datetime) -> Attempt:
    endpoint = delivery.endpoint
    error = "" if outcome.ok else (outcome.error or f"HTTP {outcome.status_code}")
    with transaction.atomic():
        row = Attempt.objects.create(
            delivery=delivery, endpoint=endpoint, number=number, at=now,
            status_code=outcome.status_code, latency_ms=outcome.latency_ms,
            response_excerpt=outcome.excerpt, error=error, succeeded=outcome.ok)
        pending = Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING)
        if outcome.ok:
            pending.update(status=Delivery.Status.SUCCEEDED, delivered_at=now,
                           next_attempt_at=None, last_error="")
            Endpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
            return row
        if number >= MAX_ATTEMPTS:
            pending.update(status=Delivery.Status.FAILED, next_attempt_at=None,
                           last_error=error)
        else:
            pending.update(next_attempt_at=now + backoff(number), last_error=error)
        Endpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(
            failing_since=now)
        endpoint.refresh_from_db(fields=["failing_since", "is_active"])
        # (failing_since is None if a concurrent attempt succeeded meanwhile)
        failing_since = endpoint.failing_since
        if endpoint.is_active and failing_since and failing_since <= now - DISABLE_AFTER:
            disable(endpoint, now=now,
                    reason=f"Failing since {failing_since:%Y-%m-%d %H:%M} UTC; "
                           f"last error: {error}"[:255])
    return row


def disable(endpoint: Endpoint, *, now: datetime, reason: str) -> bool:
    """Switch a failing endpoint off, give up its pending deliveries and tell the admins
    (once: only the call that switched it off notifies)."""
    with transaction.atomic():
        switched = Endpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
            is_active=False, disabled_at=now, disabled_reason=reason)
        if not switched:
            return False
        forget_subscriptions()
        Delivery.objects.filter(endpoint=endpoint, status=Delivery.Status.PENDING).update(
            status=Delivery.Status.FAILED, next_attempt_at=None,
            last_error="Endpoint disabled after a day of failures.")
        url = reverse("admin:webhooks_endpoint_change", args=[endpoint.pk])
        for admin in admins():
            with in_language_of(admin):
                title = _("Webhook “%(endpoint)s” disabled after a day of failures") % {
                    "endpoint": endpoint.name}
                advice = _("Fix the receiver, then re-activate the endpoint and redeliver from "
                           "its delivery log.")
            notify(admin, title=title, body=f"{endpoint.url}\n{reason}\n{advice}",
                   url=url, source=NOTIFICATION_SOURCE,
                   dedupe_key=f"{NOTIFICATION_SOURCE}:{endpoint.pk}:{now.isoformat()}")
    endpoint.is_active, endpoint.disabled_at, endpoint.disabled_reason = False, now, reason
    logger.warning("Webhook endpoint %s disabled: %s", endpoint.pk, reason)
    return True


def admins():
    User = get_user_model()
    return (User.objects.filter(is_active=True)
            .filter(Q(is_superuser=True) | Q(groups__name=Role.ADMIN)).distinct())


def due_ids(*, now: datetime, limit: int = 500) -> list[int]:
    """Pending deliveries of active endpoints whose next attempt is due (indexed column)."""
    return list(Delivery.objects.filter(
        next_attempt_at__lte=now, status=Delivery.Status.PENDING, endpoint__is_active=True)
        .order_by("next_attempt_at").values_list("pk", flat=True)[:limit])


def body_of(event_id: str, event_type: str, occurred_at: datetime, data: dict) -> str:
    return json.dumps({"id": event_id, "type": event_type,
                       "occurred_at": occurred_at.isoformat(), "data": data},
                      separators=(",", ":"), ensure_ascii=False, default=str)


def prune_log(*, now: datetime, keep: timedelta, batch: int = 1000) -> int:
    """Delete finished deliveries (and their attempts) older than `keep`; how many.

    Pending ones stay whatever their age: they are still owed to the receiver.
    """
    old = Delivery.objects.filter(created_at__lt=now - keep).exclude(
        status=Delivery.Status.PENDING)
    deleted = 0
    while ids := list(old.values_list("pk", flat=True)[:batch]):
        Attempt.objects.filter(delivery_id__in=ids).delete()
        deleted += Delivery.objects.filter(pk__in=ids).delete()[1].get("webhooks.Delivery", 0)
    return deleted

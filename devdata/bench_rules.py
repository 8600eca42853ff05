"""Triggers and automations in `manage.py bench` (issue 23).

- A ticket create through the API with 50 active triggers on "created" (one of them
  matches the bench ticket and tags it; the others test tiers, channels and words that
  do not hold), against the same create with no trigger.
- The automation scan (what Celery beat runs) with 1,000 tickets due, and with none due:
  one automation on "hours since created", its scan position set so that exactly the
  1,000 tickets created last before its cutoff are due; it adds an internal note.

The bench's triggers and automation are deleted afterwards; the tickets it notes keep
their notes (subject of the note: "[bench] automation").
"""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import timedelta

from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from helpdesk import config_cache
from helpdesk.models import User
from tickets.models import Automation, Ticket, Trigger
from tickets.rules import runner

PREFIX = "[bench] rule"
TRIGGERS = 50
DUE = 1000


def _triggers() -> list[Trigger]:
    """50 triggers on creation, in order; the 25th matches the bench ticket."""
    tiers = ["enterprise", "business", "professional", "starter", "free"]
    rows = []
    for i in range(TRIGGERS):
        if i == 24:
            conditions = [{"field": "subject", "op": "contains", "value": "[bench] API"}]
            actions = [{"action": "add_tags", "value": "bench-rule"}]
        else:
            conditions = [
                {"field": "org_tier", "op": "in", "value": [tiers[i % 5]]},
                {"field": "channel", "op": "is", "value": "phone"},
                {"field": "text", "op": "contains", "value": f"zz-no-such-word-{i}"},
            ]
            actions = [{"action": "set_priority", "value": 1},
                       {"action": "add_tags", "value": f"rule-{i}"}]
        rows.append(Trigger(name=f"{PREFIX} {i:02d}", order=i, events=["created"],
                            conditions=conditions, actions=actions))
    Trigger.objects.bulk_create(rows)
    config_cache.forget()  # bulk_create sends no signal: drop the held rule set
    return rows


def _creates(customer: User, iterations: int,
             tag: str) -> tuple[list[float], list[int], list[float]]:
    """(wall ms, queries, ms in SQL) of each measured create."""
    client = Client()
    client.force_login(customer)
    times, queries, sql_ms = [], [], []
    for i in range(-3, iterations):
        cache.delete(f"throttle_user_{customer.pk}")
        with CaptureQueriesContext(connection) as ctx:
            t0 = time.perf_counter()
            response = client.post("/api/v1/tickets/", {
                "subject": f"[bench] API ticket {tag} {i}",
                "description": "Created by manage.py bench to time triggers."},
                content_type="application/json")
            elapsed = time.perf_counter() - t0
        if response.status_code != 201:
            raise RuntimeError(f"create answered {response.status_code}")
        if i >= 0:
            times.append(elapsed * 1000)
            queries.append(len(ctx.captured_queries))
            sql_ms.append(sum(float(q.get("time") or 0) for q in ctx.captured_queries) * 1000)
    return times, queries, sql_ms


def _row(label: str, times: list[float], queries: list[int], sql_ms: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return (f"  {label}: p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms, "
            f"queries {statistics.median(queries):g} ({min(queries)}-{max(queries)}), "
            f"SQL ms p50 {statistics.median(sql_ms):.1f}")


def _scan(label: str, before: Callable[[], None] | None = None) -> str:
    if before:
        before()
    count = [0]

    def counter(execute, sql, params, many, context):
        count[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counter):
        t0 = time.perf_counter()
        fired = runner.scan_automations()
        elapsed = time.perf_counter() - t0
    return f"  {label}: {elapsed * 1000:,.1f} ms, {count[0]:,} queries, {fired:,} fired"


def run(stdout, *, customer: User, iterations: int) -> None:
    """Print the figures (and clean up the bench's rules)."""
    Trigger.objects.filter(name__startswith=PREFIX).delete()
    Automation.objects.filter(name__startswith=PREFIX).delete()
    active = Trigger.objects.filter(is_active=True).count() + \
        Automation.objects.filter(is_active=True).count()
    stdout.write(f"\nTriggers and automations ({active} other active rules):")
    try:
        config_cache.forget()
        stdout.write(_row("API ticket create, no trigger",
                          *_creates(customer, iterations, "plain")))
        _triggers()
        stdout.write(_row(f"API ticket create, {TRIGGERS} active triggers (1 fires)",
                          *_creates(customer, iterations, "rules")))
        Trigger.objects.filter(name__startswith=PREFIX).delete()

        now = timezone.now()
        hours = 24
        cutoff = now - timedelta(hours=hours)
        edge = (Ticket.objects.filter(created_at__lte=cutoff).order_by("-created_at", "-pk")
                .values_list("created_at", "pk")[DUE - 1:DUE].first())
        if edge is None:
            stdout.write(f"  automation scan: n/a (fewer than {DUE} tickets)")
            return
        automation = Automation.objects.create(
            name=f"{PREFIX} automation", since="created", hours=hours,
            actions=[{"action": "add_note", "value": "[bench] automation"}])

        def due_1000() -> None:
            Automation.objects.filter(pk=automation.pk).update(
                scanned_until=edge[0], scanned_id=edge[1] - 1)

        stdout.write(_scan(f"automation scan, {DUE:,} tickets due", due_1000))
        runner.scan_automations()  # what became due meanwhile (the clock moved on)
        stdout.write(_scan("automation scan, none due"))
    finally:
        Trigger.objects.filter(name__startswith=PREFIX).delete()
        Automation.objects.filter(name__startswith=PREFIX).delete()
        config_cache.forget()

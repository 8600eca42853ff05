"""The custom-field filter scenario of `manage.py bench`: the agent queue filtered on one
custom field over every ticket of the database.

`--seed-custom-fields` first gives every ticket values of two bench fields, in one SQL
UPDATE (the change-log triggers are skipped for it on PostgreSQL, as a fast import does:
seeding is not a change a sync job must replay), then VACUUM ANALYZE:

- `bench_plan`, a drop-down shown as a queue column, skewed as plans are: Basic 60 %,
  Pro 25 %, Enterprise 12 %, Trial 2 %, Legacy 1 %;
- `bench_order`, a pattern field, unique per ticket ("ORD-0001234").

What is timed: the filter query alone (the queue's first page and its capped count, as
the queue runs them) and the whole queue page through the test client, with their
query counts.
"""
from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from typing import TextIO

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from helpdesk import config_cache
from helpdesk.models import User
from helpdesk.paging import CappedPaginator
from tickets import field_definitions, selectors
from tickets.models import CustomField, Ticket

PLANS = (("Basic", 60), ("Pro", 85), ("Enterprise", 97), ("Trial", 99), ("Legacy", 100))
PLAN, ORDER = "bench_plan", "bench_order"


def ensure_fields() -> tuple[CustomField, CustomField]:
    plan, _ = CustomField.objects.get_or_create(key=PLAN, defaults={
        "label": "Plan (bench)", "field_type": "dropdown",
        "choices": [name for name, _ in PLANS], "show_in_queue": True, "order": 900})
    order, _ = CustomField.objects.get_or_create(key=ORDER, defaults={
        "label": "Order (bench)", "field_type": "regex", "pattern": r"ORD-\d{7}",
        "order": 901})
    config_cache.forget()
    return plan, order


def seeded() -> bool:
    last = Ticket.objects.order_by("-pk").only("id", "custom_fields").first()
    return last is not None and PLAN in (last.custom_fields or {})


def seed(out: TextIO) -> None:
    """Values of both fields on every ticket, in one UPDATE (fast SQL)."""
    ensure_fields()
    cases = " ".join(f"WHEN id % 100 < {upto} THEN '{name}'" for name, upto in PLANS)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")  # no change-log rows
            try:
                cursor.execute(  # constants of this module only
                    "UPDATE tickets_ticket SET custom_fields = custom_fields || "  # noqa: S608
                    f"jsonb_build_object('{PLAN}', CASE {cases} END, "
                    f"'{ORDER}', 'ORD-' || lpad(id::text, 7, '0'))")
                rows = cursor.rowcount
            finally:
                cursor.execute("SET session_replication_role = DEFAULT")
            cursor.execute("VACUUM ANALYZE tickets_ticket")
        else:
            cursor.execute(  # constants of this module only
                "UPDATE tickets_ticket SET custom_fields = json_set(custom_fields, "  # noqa: S608
                f"'$.{PLAN}', CASE {cases} END, '$.{ORDER}', "
                "'ORD-' || substr('0000000' || id, -7, 7))")
            rows = cursor.rowcount
            cursor.execute("ANALYZE tickets_ticket")
    out.write(f"Seeded custom field values on {rows:,} tickets in "
              f"{time.perf_counter() - started:.1f}s\n")


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


def _measure(run: Callable[[], object], iterations: int) -> tuple[list[float], list[int]]:
    for _ in range(3):
        run()  # warm: plans, the configuration cache
    times, queries = [], []
    for _ in range(iterations):
        with CaptureQueriesContext(connection) as ctx:
            t0 = time.perf_counter()
            run()
            times.append((time.perf_counter() - t0) * 1000)
        queries.append(len(ctx.captured_queries))
    return times, queries


def filter_page(user: User, key: str, value: str, *, per_page: int = 25) -> list[Ticket]:
    """What the queue runs for a filtered page: the open queue narrowed by the field, its
    first page and capped count (the view adds the row labels and the template)."""
    field = field_definitions.by_key()[key]
    rows = selectors.queue(user, "open").filter(field_definitions.value_q(field, value))
    page = CappedPaginator(rows, per_page).get_page(1)
    list(page.object_list)
    return page


def run(out: TextIO, *, manager: User, iterations: int) -> None:
    if not CustomField.objects.filter(key=PLAN).exists() or not seeded():
        out.write("\nCustom-field filter: n/a (no values: run with --seed-custom-fields)\n")
        return
    total = Ticket.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    middle = selectors.queue(manager, "open").filter(pk__lte=total // 2).order_by(
        "-pk").values_list("pk", flat=True).first() or 1  # an open ticket's order number
    cases = [(PLAN, "Enterprise", "12 %"), (PLAN, "Legacy", "1 %"),
             (ORDER, f"ORD-{middle:07d}", "1 ticket")]
    client = Client()
    client.force_login(manager)
    queue = reverse("agent:queue", args=["open"])
    rows = [("custom-field filter (queue \"open\")", "matches", "p50 ms", "p95 ms",
             "queries")]
    for key, value, share in cases:
        times, queries = _measure(lambda k=key, v=value: filter_page(manager, k, v),
                                  iterations)
        rows.append((f"  query: {key} = {value}", share, f"{statistics.median(times):.1f}",
                     f"{_percentile(times, 0.95):.1f}", f"{statistics.median(queries):g}"))
        times, queries = _measure(
            lambda k=key, v=value: client.get(f"{queue}?cf_{k}={v}"), iterations)
        rows.append((f"  page:  {key} = {value}", share, f"{statistics.median(times):.1f}",
                     f"{_percentile(times, 0.95):.1f}", f"{statistics.median(queries):g}"))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    out.write(f"\nCustom-field filter on {connection.vendor}, ids up to {total:,} "
              f"({iterations} runs each):\n")
    for r in rows:
        out.write("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) + "\n")

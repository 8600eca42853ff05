"""API benchmarks for `manage.py bench` (alone: `bench --api-only`): the ticket list's first
and 1,000th page (cursor, and the old `?page=`), the list filtered, one ticket, its
messages and events, and the incremental export of 10,000 changes.

Requests go through django.test.Client in this process (the server's own time). The deep
cursor page starts after the 24,975th ticket the user sees, found once with an OFFSET
before timing (what a client reaches by following 999 `next` links). The export reads
the first 10,000 changes of the log in pages of 1,000 and of 100; a log with fewer
changes is topped up first by touching tickets (10 transactions of 1,000 updates).
"""
from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import Resolver404, resolve

from helpdesk.keyset import encode_cursor, ordering_of
from helpdesk.models import User
from tickets import selectors
from tickets.models import Ticket, TicketChange

LIST = "/api/v1/tickets/"
CHANGES = "/api/v1/tickets/changes/"
PAGE_SIZE = 25
DEEP_PAGE = 1000
EXPORT_CHANGES = 10_000


@dataclass
class Timing:
    label: str
    user: str
    times_ms: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    sql_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)  # this process's CPU: less load-bound
    statuses: set[int] = field(default_factory=set)
    note: str = ""

    def percentile(self, p: float) -> float:
        return _percentile(self.times_ms, p)


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _time(timing: Timing, user: User, request: Callable[[], object]) -> object:
    cache.delete(f"throttle_user_{user.pk}")  # the per-user API throttle would trip
    with CaptureQueriesContext(connection) as ctx:
        started, cpu = time.perf_counter(), time.process_time()
        response = request()
        timing.times_ms.append((time.perf_counter() - started) * 1000)
        timing.cpu_ms.append((time.process_time() - cpu) * 1000)
    timing.queries.append(len(ctx.captured_queries))
    timing.sql_ms.append(sum(float(q.get("time") or 0) for q in ctx.captured_queries) * 1000)
    timing.statuses.add(response.status_code)
    return response


def _get(label: str, user: User, path: str, iterations: int, warmup: int) -> Timing:
    timing = Timing(label, user.username)
    client = _client(user)
    for _ in range(warmup):
        cache.delete(f"throttle_user_{user.pk}")
        client.get(path)
    for _ in range(iterations):
        _time(timing, user, lambda: client.get(path))
    return timing


def deep_cursor(user: User, page: int = DEEP_PAGE) -> str | None:
    """The cursor of the user's `page`th list page (None if the list is shorter)."""
    qs = selectors.visible_tickets(user)
    names = ordering_of(qs)
    offset = (page - 1) * PAGE_SIZE - 1
    rows = list(qs.order_by(*Ticket._meta.ordering).values_list(*names)[offset:offset + 1])
    return encode_cursor(list(rows[0])) if rows else None


def _has(path: str, name: str) -> bool:
    try:
        return resolve(path).url_name == name  # not the detail route taking it for an id
    except Resolver404:
        return False


def _top_up_changes() -> str:
    """At least EXPORT_CHANGES changes in the log: touch tickets if there are fewer."""
    have = TicketChange.objects.count()
    if have >= EXPORT_CHANGES:
        return f"{have:,} changes in the log"
    ids = list(Ticket.objects.order_by("-id").values_list("pk", flat=True)[:EXPORT_CHANGES])
    for start in range(0, len(ids), 1000):
        with transaction.atomic():  # one transaction per 1,000, one change per ticket
            Ticket.objects.filter(pk__in=ids[start:start + 1000]).update(
                reopen_count=F("reopen_count") + 1)
    return f"topped up from {have:,} to {TicketChange.objects.count():,} changes"


def _export(manager: User, page_size: int, rounds: int) -> tuple[Timing, list[float]]:
    """Read the first EXPORT_CHANGES changes `rounds` times: (per-page timing, totals)."""
    timing = Timing(f"export {EXPORT_CHANGES:,} changes, {page_size}/page", manager.username)
    client = _client(manager)
    totals = []
    for _ in range(rounds):
        read, url, started = 0, f"{CHANGES}?page_size={page_size}", time.perf_counter()
        while read < EXPORT_CHANGES:
            body = _time(timing, manager, lambda u=url: client.get(u)).json()
            read += len(body["changes"])
            url = body["next"]
            if body["end_of_stream"]:
                break
        totals.append((time.perf_counter() - started) * 1000)
    return timing, totals


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f}"


def _sample_ticket(user: User) -> int | None:
    """A ticket `user` sees that has messages and events: the most recently changed."""
    return (selectors.visible_tickets(user).filter(messages__isnull=False)
            .order_by("-updated_at", "-id").values_list("pk", flat=True).first())


def run(stdout, *, manager: User, agent: User, customer: User, iterations: int = 50,
        warmup: int = 3) -> None:
    """Time the API scenarios and print their table."""
    started = time.perf_counter()
    stdout.write(f"\nAPI benchmark starts ({_load()})")
    rows: list[Timing] = []
    # The cursor list and the export came together (#21): before, neither is timed.
    cursor_pages = _has(CHANGES, "ticket-changes")
    for user in (manager, agent, customer):
        rows.append(_get("API list, first page", user, LIST, iterations, warmup))
        if user is not customer:
            if cursor_pages:
                cursor = deep_cursor(user)
                if cursor:
                    rows.append(_get(f"API list, page {DEEP_PAGE:,} (cursor)", user,
                                     f"{LIST}?cursor={cursor}", iterations, warmup))
            rows.append(_get(f"API list, ?page={DEEP_PAGE:,}", user,
                             f"{LIST}?page={DEEP_PAGE}", max(5, iterations // 5), 1))
            rows.append(_get("API list, filtered (open, P1-P2)", user,
                             f"{LIST}?open=true&priority=1&priority=2", iterations, warmup))
        ticket_id = _sample_ticket(user)
        if ticket_id is None:
            continue
        for label, path in (("API ticket detail", f"{LIST}{ticket_id}/"),
                            ("API ticket messages", f"{LIST}{ticket_id}/messages/"),
                            ("API ticket events", f"{LIST}{ticket_id}/events/")):
            rows.append(_get(f"{label} (#{ticket_id})", user, path, iterations, warmup))
    totals: dict[str, list[float]] = {}
    if cursor_pages:
        note = _top_up_changes()
        for size, rounds in ((1000, 5), (100, 2)):
            timing, totals[timing.label] = _export(manager, size, rounds)
            timing.note = note
            rows.append(timing)
    else:
        rows.append(Timing("incremental export", manager.username, note=f"n/a (no {CHANGES})"))
    stdout.write(f"\nAPI ({connection.vendor}, {Ticket.objects.count():,} tickets, setup and "
                 f"run {time.perf_counter() - started:.0f}s, {_load()} at the end):")
    _print(stdout, rows)
    for label, values in totals.items():
        stdout.write(f"  {label}: whole export p50 {statistics.median(values):.0f} ms "
                     f"(max {max(values):.0f} ms, {len(values)} runs)")


def _print(stdout, rows: list[Timing]) -> None:
    header = ("scenario", "user", "status", "n", "p50 ms", "p95 ms", "max ms", "queries",
              "SQL ms p50", "SQL ms p95", "CPU ms p50")
    table = [header]
    for r in rows:
        if not r.times_ms:
            table.append((r.label, r.user, r.note, "", "", "", "", "", "", "", ""))
            continue
        q_low, q_high = min(r.queries), max(r.queries)
        table.append((r.label, r.user, ",".join(map(str, sorted(r.statuses))),
                      str(len(r.times_ms)), f"{r.percentile(0.5):.1f}",
                      f"{r.percentile(0.95):.1f}", f"{max(r.times_ms):.1f}",
                      str(q_low) if q_low == q_high else f"{q_low}-{q_high}",
                      f"{statistics.median(r.sql_ms):.1f}",
                      f"{_percentile(r.sql_ms, 0.95):.1f}",
                      f"{statistics.median(r.cpu_ms):.1f}"))
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for i, row in enumerate(table):
        stdout.write(" | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
        if i == 0:
            stdout.write("-+-".join("-" * w for w in widths))

"""The incremental export with writers running during the sync, on PostgreSQL: a sync loop
that resumes from its cursor ends with exactly the database's tickets, and reads each
change once, even when a transaction that wrote first commits last.

SQLite has one writer at a time (the id order is the commit order there): skipped.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from tickets import services
from tickets.models import Priority, Ticket, TicketChange

from ..factories import make_ticket

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(120),
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="concurrent writers need PostgreSQL"),
]

CHANGES = "/api/v1/tickets/changes/"
WAIT = 30  # seconds: a bound on each hand-over below, never a synchronisation


class Sync:
    """An integration's sync loop: applies each page to its own copy, keeps the cursor."""

    def __init__(self, user) -> None:
        self.client = APIClient()
        self.client.force_authenticate(user)
        self.copy: dict[int, dict] = {}
        self.cursor: str | None = None
        self.changes_read = 0

    def poll(self) -> list[dict]:
        """Read until the end of the stream (for now); the changes read."""
        read = []
        while True:
            params = {"page_size": 7, **({"cursor": self.cursor} if self.cursor else {})}
            response = self.client.get(CHANGES, params)
            assert response.status_code == 200, response.content
            body = response.json()
            for change in body["changes"]:
                if change["ticket"] is None:
                    self.copy.pop(change["ticket_id"], None)
                else:
                    self.copy[change["ticket_id"]] = _fields(change["ticket"])
            read += body["changes"]
            self.cursor = body["after_cursor"]
            if body["end_of_stream"]:
                self.changes_read += len(read)
                return read


def _catch_up(sync: Sync, until: Callable[[], bool]) -> list[dict]:
    """Poll as a sync job does until `until()` (bounded). All the test's writers have
    committed by now; what can still hold the stream back is a write transaction
    elsewhere on the PostgreSQL cluster (another database's tests on a shared server), so
    there is nothing of ours to wait on: poll again a little later, as a sync job would."""
    deadline = time.monotonic() + WAIT
    read = sync.poll()
    while not until():
        assert time.monotonic() < deadline, "the stream never caught up"
        time.sleep(0.05)  # the sync job's poll interval, not a hand-over
        read += sync.poll()
    return read


def _fields(ticket: dict) -> dict:
    return {"subject": ticket["subject"], "priority": ticket["priority"],
            "merged_into": ticket["merged_into"], "status": ticket["status"]}


def _database_state() -> dict[int, dict]:
    return {t["id"]: {"subject": t["subject"], "priority": t["priority"],
                      "merged_into": t["merged_into_id"], "status": t["status"]}
            for t in Ticket.objects.values("id", "subject", "priority", "merged_into_id",
                                           "status")}


def _in_thread(target, *args) -> threading.Thread:
    def run() -> None:
        try:
            target(*args)
        finally:
            connection.close()  # each thread has its own connection

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_change_that_commits_late_is_read_after_the_ones_it_held_back(manager, customer_a):
    early = make_ticket(customer_a, subject="Written first, committed last")
    later = make_ticket(customer_a, subject="Written second, committed first")
    sync = Sync(manager)
    _catch_up(sync, lambda: sync.changes_read == TicketChange.objects.count())
    written, read_past = threading.Event(), threading.Event()

    def slow_writer() -> None:
        with transaction.atomic():
            Ticket.objects.filter(pk=early.pk).update(priority=Priority.P1)
            written.set()  # this row's change has the lower id and the older xid
            assert read_past.wait(WAIT)

    slow = _in_thread(slow_writer)
    assert written.wait(WAIT)
    Ticket.objects.filter(pk=later.pk).update(priority=Priority.P2)  # commits now
    assert sync.poll() == []  # held back: an older transaction is still open
    read_past.set()
    slow.join(WAIT)
    assert not slow.is_alive()

    read = _catch_up(sync, lambda: sync.changes_read == TicketChange.objects.count())
    assert [(c["ticket_id"], c["ticket"]["priority"]) for c in read] == [
        (early.pk, Priority.P1), (later.pk, Priority.P2)]
    assert sync.copy == _database_state()


def test_a_sync_during_concurrent_writes_ends_equal_to_the_database(manager, customer_a):
    seeds = [make_ticket(customer_a, subject=f"Seed {i}") for i in range(6)]
    sync = Sync(manager)
    _catch_up(sync, lambda: sync.changes_read == TicketChange.objects.count())
    writers, rounds = 4, 15
    start = threading.Barrier(writers + 1, timeout=WAIT)
    done = threading.Event()

    def writer(n: int) -> None:
        start.wait()
        mine: list[int] = []
        for i in range(rounds):
            with transaction.atomic():
                ticket = make_ticket(customer_a, subject=f"W{n} ticket {i}")
                mine.append(ticket.pk)
                # Bulk writes and services alike: the trigger sees them all.
                Ticket.objects.filter(pk=seeds[(n + i) % len(seeds)].pk).update(
                    priority=1 + (n + i) % 5, subject=f"Seed touched by W{n} round {i}")
            if i % 4 == 3:
                Ticket.objects.filter(pk=mine.pop(0)).delete()
            if i == rounds - 1 and n == 0:
                services.merge(Ticket.objects.get(pk=mine[-1]),
                               into=Ticket.objects.get(pk=mine[0]), actor=manager)

    threads = [_in_thread(writer, n) for n in range(writers)]
    watcher = _in_thread(lambda: ([t.join(WAIT) for t in threads], done.set()))
    start.wait()
    polls = 0
    while not done.is_set():  # the sync runs while the writers write
        sync.poll()
        polls += 1
    watcher.join(WAIT)
    assert all(not t.is_alive() for t in threads)
    _catch_up(sync, lambda: sync.changes_read == TicketChange.objects.count())

    assert polls >= 1
    assert sync.copy == _database_state()
    assert sync.changes_read == TicketChange.objects.count()  # none missed, none twice
    assert any(v["merged_into"] for v in sync.copy.values())

"""Two workers at once: the same mail fetched twice makes one ticket and one customer;
the same reply sent by two workers goes out once.

PostgreSQL only: SQLite serialises every writer on one database lock.
"""
from __future__ import annotations

import threading

import pytest
from django.core import mail
from django.db import connection

from helpdesk.models import User
from mailgate import outbound, services
from mailgate.models import InboundMessage, OutboundEmail, OutboundStatus
from tickets import services as ticket_services
from tickets.models import Ticket

from .conftest import corpus

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="needs PostgreSQL: SQLite has a single writer"),
]


def run_two(target) -> list:
    barrier = threading.Barrier(2)
    results: list = []
    errors: list[BaseException] = []

    def worker():
        try:
            barrier.wait(timeout=10)
            results.append(target())
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    if errors:
        raise errors[0]
    return results


def test_same_mail_ingested_by_two_workers_at_once_makes_one_ticket(mailbox):
    raw = corpus("01_new_plain.eml")
    results = run_two(lambda: services.ingest(raw, mailbox))
    assert sorted(r.duplicate for r in results) == [False, True]
    assert {r.status for r in results} == {"ticket_created"}
    assert Ticket.objects.count() == 1 and InboundMessage.objects.count() == 1
    assert User.objects.filter(email="carol@acme.example").count() == 1


def test_same_reply_sent_by_two_workers_goes_out_once(thread, agent, monkeypatch):
    monkeypatch.setattr(outbound, "_enqueue", lambda pk: None)  # the workers below send
    message = ticket_services.add_reply(thread, author=agent, body="Fixed on our side.")
    row = outbound.queue_reply(message.pk)
    mail.outbox.clear()
    results = run_two(lambda: outbound.send_outbound(row.pk))
    assert sorted(results) == ["sent", "skipped"]
    assert len(mail.outbox) == 1
    row.refresh_from_db()
    assert row.status == OutboundStatus.SENT and row.attempts == 1
    assert OutboundEmail.objects.filter(key=f"reply:{message.pk}").count() == 1

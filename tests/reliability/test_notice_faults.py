"""Issue 18 under faults: the waiting-on-customer reminders run by real Celery workers on
a private Redis, the scan sent twice at once (a duplicate beat), the worker killed while
the reminders go out to a slow mail server. Each customer gets their reminder once (at
most one repeat per process killed, with the same Message-ID, as the fault suite allows
at the SMTP hand-off), and each step is recorded once."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from helpdesk.roles import Role
from mailgate.models import OutboundEmail, OutboundStatus, WaitingTicket
from tests.factories import make_org, make_ticket, make_user
from tickets.models import Ticket
from tickets.state_machine import Status

from .conftest import needs_postgresql, wait_for
from .test_celery_faults import assert_each_mail_once, drained

pytestmark = [pytest.mark.django_db(transaction=True), needs_postgresql]


def due_waits(n: int) -> list[int]:
    """`n` tickets of `n` customers, waiting on them for three business days."""
    org = make_org()
    since = timezone.now() - timedelta(days=5)
    ids = []
    for _ in range(n):
        ticket = make_ticket(make_user(Role.CUSTOMER, org=org))
        Ticket.objects.filter(pk=ticket.pk).update(status=Status.WAITING_ON_CUSTOMER)
        WaitingTicket.objects.create(ticket=ticket, waiting_since=since,
                                     next_due_at=timezone.now() - timedelta(minutes=1))
        ids.append(ticket.pk)
    return ids


def reminders():
    return OutboundEmail.objects.filter(notice="customer.reminder")


def test_worker_killed_while_reminders_go_out_each_customer_gets_one(
        celery, redis_server, smtp_sink):
    sink, _ = smtp_sink
    sink.delay = 0.05  # a slow mail server: the reminders take seconds
    tickets = due_waits(25)
    worker = celery.worker(concurrency=2)
    celery.send("mailgate.tasks.scan_waiting_tickets")
    celery.send("mailgate.tasks.scan_waiting_tickets")  # a duplicate beat at the same time
    wait_for(lambda: sink.count() >= 5, timeout=60, what="the first reminders")
    celery.kill(worker)  # SIGKILL to the worker and its pool: nothing acknowledged
    assert sink.count() < len(tickets), "the worker finished before it was killed"

    celery.worker(concurrency=2)  # restarted
    celery.send("mailgate.tasks.scan_waiting_tickets")  # the next beat tick
    wait_for(lambda: reminders().filter(status=OutboundStatus.SENT).count() == len(tickets),
             timeout=90, what=lambda: "every reminder sent\n" + celery.output())
    wait_for(lambda: drained(redis_server), timeout=30, what="the queue to drain")
    assert sorted(reminders().values_list("ticket_id", flat=True)) == sorted(tickets)
    assert set(WaitingTicket.objects.values_list("step", flat=True)) == {1}
    expected = {f"<{mid}>" for mid in reminders().values_list("message_id", flat=True)}
    assert_each_mail_once(sink, expected, processes_killed=2)

"""Celery under faults: workers killed mid-run, Redis crashing, two beats at once.

Each test runs real `celery worker` / `celery beat` processes on a private Redis against
the test database, seeds due work (SLA clocks past their levels, due surveys), breaks
something while the work is half done, lets the system recover and then counts:

- every SLA level fires once (one `ClockLevelFire`, one level event) and every
  notification row exists once (unique `dedupe_key`);
- every notification e-mail and every survey reaches the SMTP server; the distinct
  Message-IDs are exactly the expected ones.

E-mail is at-least-once at the SMTP hand-off: a process killed after the server accepted
a message but before its own transaction committed sends that one message again on
retry, with the same stable Message-ID (so receivers can drop it). The tests allow at
most one such repeat per process killed and nothing else.
"""
from __future__ import annotations

import os
import signal
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from helpdesk.mail import stable_message_id
from helpdesk.models import Notification
from helpdesk.roles import Role
from sla.escalation import NOTIFICATION_SOURCE
from sla.models import Clock, ClockEvent, ClockLevelFire
from tests.factories import make_org, make_ticket, make_user, team
from tests.sla.test_escalation import make_policy, start_clock
from tickets.models import Survey, Ticket
from tickets.state_machine import Status

from .conftest import needs_postgresql, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), needs_postgresql]

DUE_LEVELS = (50, 80, 90)  # 55 minutes into a one-hour target
NOTIFIED = {80: ("agent",), 90: ("agent", "lead")}  # who each level tells (make_policy)


class DueClocks:
    """Tickets of L1 whose clocks have their 50, 80 and 90 % levels due: three e-mailed
    notifications per clock (80: assignee; 90: assignee and team lead)."""

    def __init__(self) -> None:
        self.l1 = team("l1-general")
        self.agent = make_user(Role.AGENT, teams=(self.l1,))
        self.lead = make_user(Role.TEAM_LEAD, teams=(self.l1,), lead=True)
        self.policy = make_policy()
        self.customer = make_user(Role.CUSTOMER, org=make_org())
        self.clocks: list[Clock] = []

    def add(self, n: int) -> list[Clock]:
        started = timezone.now() - timedelta(minutes=55)
        tickets = clone_tickets(make_ticket(self.customer), n, team=self.l1,
                                assignee=self.agent)
        Clock.objects.filter(ticket__in=tickets).delete()  # only this test's clocks fire
        added = [start_clock(t, self.policy, started=started) for t in tickets]
        self.clocks += added
        return added

    def expected_keys(self) -> set[str]:
        people = {"agent": self.agent, "lead": self.lead}
        return {f"sla:{c.pk}:{p}:{people[who].pk}"
                for c in self.clocks for p, names in NOTIFIED.items() for who in names}

    def notifications(self):
        return Notification.objects.filter(source=NOTIFICATION_SOURCE,
                                           recipient__in=[self.agent, self.lead])

    def state(self) -> str:
        """What is missing, for a failure message."""
        notes = self.notifications()
        return (f"{notes.count()} of {len(self.expected_keys())} notifications, "
                f"{notes.filter(emailed_at__isnull=True).count()} not e-mailed\n")

    def all_emailed(self) -> bool:
        notes = self.notifications()
        return (notes.count() == len(self.expected_keys())
                and not notes.filter(emailed_at__isnull=True).exists())

    def message_ids(self) -> set[str]:
        return {stable_message_id(f"notification:{pk}")
                for pk in self.notifications().values_list("pk", flat=True)}

    def assert_fired_once(self) -> None:
        ids = [c.pk for c in self.clocks]
        fires = Counter(ClockLevelFire.objects.filter(clock_id__in=ids)
                        .values_list("clock_id", "percent"))
        assert fires == Counter({(pk, p): 1 for pk in ids for p in DUE_LEVELS})
        events = Counter((clock_id, data["percent"]) for clock_id, data in
                         ClockEvent.objects.filter(kind="level", clock_id__in=ids)
                         .values_list("clock_id", "data"))
        assert events == fires
        keys = list(self.notifications().values_list("dedupe_key", flat=True))
        assert sorted(keys) == sorted(self.expected_keys())


@pytest.fixture
def due(transactional_db) -> DueClocks:
    return DueClocks()


def clone_tickets(template: Ticket, n: int, **fields) -> list[Ticket]:
    """`n` copies of a ticket made through the services, written in one statement (the
    services take a quarter of a second per ticket with every handler on board)."""
    Ticket.objects.filter(pk=template.pk).update(**fields)
    template = Ticket.objects.get(pk=template.pk)
    copies = []
    for _ in range(n - 1):
        copy = Ticket.objects.get(pk=template.pk)
        copy.pk = copy.id = None
        copies.append(copy)
    return [template, *Ticket.objects.bulk_create(copies)]


def due_surveys(n: int) -> list[Survey]:
    """`n` resolved tickets, each of a different customer (the 30-day cooldown), whose
    survey delay has passed."""
    org = make_org()
    past = timezone.now() - timedelta(hours=3)
    surveys = []
    template = make_ticket(make_user(Role.CUSTOMER, org=org))
    tickets = clone_tickets(template, n, status=Status.RESOLVED, resolved_at=past)
    for ticket in tickets:
        customer = make_user(Role.CUSTOMER, org=org)
        Ticket.objects.filter(pk=ticket.pk).update(requester=customer)
        surveys.append(Survey.objects.create(ticket=ticket, resolution=0, requester=customer,
                                             scheduled_for=past + timedelta(hours=2)))
    return surveys


def assert_each_mail_once(sink, expected: set[str], *, processes_killed: int) -> None:
    counts = sink.counts()
    assert set(counts) == expected  # every expected e-mail arrived, nothing else
    repeats = sum(n - 1 for n in counts.values())
    assert repeats <= processes_killed, f"{repeats} repeated e-mails: {counts.most_common(3)}"


def drained(redis_server) -> bool:
    return redis_server.queue_length() == 0 and redis_server.unacked() == 0


def test_worker_killed_during_escalation_fan_out_sends_each_notification_once(
        due, celery, redis_server, smtp_sink):
    sink, _ = smtp_sink
    sink.delay = 0.03  # a slow mail server: the e-mail fan-out takes seconds
    due.add(30)  # 90 e-mailed notifications
    total = len(due.expected_keys())
    worker = celery.worker(concurrency=2)
    celery.send("sla.tasks.scan_due_clocks")
    wait_for(lambda: sink.count() >= 10, timeout=60, what="the first e-mails")
    celery.kill(worker)  # SIGKILL to the worker and its pool: nothing acknowledged
    sent_before = sink.count()
    assert sent_before < total, "the worker finished before it was killed"

    celery.worker(concurrency=2)  # restarted, e.g. by systemd
    celery.send("sla.tasks.scan_due_clocks")  # the next beat tick
    wait_for(due.all_emailed, timeout=90,
             what=lambda: "every notification e-mailed\n" + celery.output())
    wait_for(lambda: drained(redis_server), timeout=30, what="the queue to drain")
    due.assert_fired_once()
    assert_each_mail_once(sink, due.message_ids(), processes_killed=2)


def test_pool_process_killed_mid_task_is_redelivered_and_surveys_go_out_once(
        celery, redis_server, smtp_sink):
    sink, _ = smtp_sink
    sink.delay = 0.05
    surveys = due_surveys(15)
    worker = celery.worker(concurrency=1)
    celery.send("tickets.tasks.send_due_surveys")
    wait_for(lambda: sink.count() >= 4, timeout=60, what="the first surveys")
    children = wait_for(lambda: celery.children(worker), timeout=5, what="the pool process")
    for pid in children:  # the kernel's OOM killer takes the pool process, not the worker
        os.kill(pid, signal.SIGKILL)
    assert sink.count() < len(surveys), "the task finished before it was killed"

    # No new task is sent: acks_late + reject_on_worker_lost put the message back at once.
    ids = [s.pk for s in surveys]
    wait_for(lambda: not Survey.objects.filter(pk__in=ids, status=Survey.Status.SCHEDULED)
             .exists(), timeout=60, what=lambda: "every survey sent\n" + celery.output())
    wait_for(lambda: drained(redis_server), timeout=30, what="the queue to drain")
    assert set(Survey.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"sent"}
    assert_each_mail_once(sink, {stable_message_id(f"survey:{pk}") for pk in ids},
                          processes_killed=1)


def test_redis_crash_mid_run_work_resumes_and_beat_catches_up(
        due, celery, redis_server, smtp_sink):
    sink, _ = smtp_sink
    sink.delay = 0.03
    due.add(20)
    celery.worker(concurrency=2)
    beat = celery.beat()  # scans every second
    wait_for(lambda: sink.count() >= 10, timeout=60, what="the first e-mails")
    redis_server.kill()  # the broker crashes with e-mail tasks queued and in flight
    assert sink.count() < len(due.expected_keys()), "the fan-out finished before the crash"
    # While Redis is down, more clocks cross their levels: only a scan after the
    # restart can find them.
    late = due.add(5)
    redis_server.start()  # same port, same append-only file

    wait_for(due.all_emailed, timeout=90,
             what=lambda: "every notification e-mailed: " + due.state() + celery.output())
    celery.stop(beat)
    wait_for(lambda: drained(redis_server), timeout=30, what="the queue to drain")
    due.assert_fired_once()
    assert ClockLevelFire.objects.filter(clock__in=late).count() == 5 * len(DUE_LEVELS)
    assert_each_mail_once(sink, due.message_ids(), processes_killed=2)


def test_two_beats_at_once_still_fire_and_send_everything_once(
        due, celery, redis_server, smtp_sink):
    sink, _ = smtp_sink
    due.add(15)
    surveys = due_surveys(8)
    celery.worker(concurrency=2)
    beats = [celery.beat(), celery.beat()]  # e.g. a deploy left the old one running
    ids = [s.pk for s in surveys]
    wait_for(lambda: due.all_emailed() and not Survey.objects.filter(
        pk__in=ids, status=Survey.Status.SCHEDULED).exists(),
        timeout=90, what=lambda: "every notification and survey sent\n" + celery.output())
    # Both beats keep firing for a few more ticks: nothing new may go out.
    time.sleep(3)
    for beat in beats:
        celery.stop(beat)
    wait_for(lambda: drained(redis_server), timeout=30, what="the queue to drain")
    logs = celery.output()
    assert logs.count("Scheduler: Sending due task sla-scan-due-clocks") >= 4, logs
    due.assert_fired_once()
    expected = due.message_ids() | {stable_message_id(f"survey:{pk}") for pk in ids}
    assert_each_mail_once(sink, expected, processes_killed=0)

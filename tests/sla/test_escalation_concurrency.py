"""Two workers on the same due clocks fire each level once and notify each person once.

PostgreSQL only: SQLite serialises every writer on one database lock, so there is no
concurrency to test there (and no SELECT ... FOR UPDATE SKIP LOCKED).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from helpdesk.models import Notification
from helpdesk.roles import Role
from sla import escalation
from sla.models import Clock, ClockEvent, ClockLevelFire
from tickets.models import Ticket

from ..factories import make_ticket, make_user, team
from .test_escalation import make_policy, start_clock

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="needs PostgreSQL: SQLite has a single writer and no "
                              "SKIP LOCKED, so two workers cannot race there"),
]

CLOCKS = 24
DUE_LEVELS = (50, 80, 90)  # 55 minutes into a 1 h target


@pytest.fixture
def due_clocks(customer_a):
    """CLOCKS tickets of L1, each with a clock whose 50, 80 and 90 % levels are all due."""
    l1 = team("l1-general")
    # No e-mail addresses: in-app notifications only, nothing queued for a mail worker.
    agent = make_user(Role.AGENT, teams=(l1,), email="")
    lead = make_user(Role.TEAM_LEAD, teams=(l1,), lead=True, email="")
    policy = make_policy()
    started = timezone.now() - timedelta(minutes=55)
    clocks = []
    for _ in range(CLOCKS):
        ticket = make_ticket(customer_a)
        Ticket.objects.filter(pk=ticket.pk).update(team=l1, assignee=agent)
        Clock.objects.filter(ticket=ticket).delete()  # only the clocks of this test
        clocks.append(start_clock(ticket, policy, started=started))
    return {"clocks": clocks, "agent": agent, "lead": lead}


def run_two_workers(target) -> list[int]:
    """Run `target()` in two threads released at the same instant; each closes its DB
    connection at the end. Returns what each returned; re-raises any error."""
    barrier = threading.Barrier(2)
    results: list[int] = []
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
    assert not any(t.is_alive() for t in threads), "a worker hung"
    if errors:
        raise errors[0]
    return results


def assert_fired_exactly_once(setup) -> None:
    clocks, agent, lead = setup["clocks"], setup["agent"], setup["lead"]
    fires = Counter(ClockLevelFire.objects.values_list("clock_id", "percent"))
    assert fires == Counter({(c.pk, p): 1 for c in clocks for p in DUE_LEVELS})
    events = Counter((clock_id, data["percent"]) for clock_id, data in
                     ClockEvent.objects.filter(kind="level").values_list("clock_id", "data"))
    assert events == fires
    expected = {f"sla:{c.pk}:{p}:{u.pk}" for c in clocks for p, people in
                ((80, [agent]), (90, [agent, lead])) for u in people}
    # Only the SLA's notices: filing the tickets told their assignee too (issue 18).
    keys = list(Notification.objects.filter(source__startswith="sla")
                .values_list("dedupe_key", flat=True))
    assert len(keys) == len(expected) == CLOCKS * 3
    assert set(keys) == expected
    for clock in Clock.objects.filter(pk__in=[c.pk for c in clocks]):
        assert clock.next_level_percent == 100
        assert clock.next_level_at > timezone.now()


def test_two_workers_split_the_due_clocks_and_fire_each_level_once(due_clocks, monkeypatch):
    # Small batches so the two workers interleave, each skipping the other's locked rows.
    monkeypatch.setattr(escalation, "BATCH_SIZE", 4)
    handled = run_two_workers(escalation.fire_due_levels)
    assert sum(handled) == CLOCKS  # every due clock handled by exactly one worker
    assert_fired_exactly_once(due_clocks)


def test_the_unique_fire_row_holds_even_if_both_workers_read_the_same_clocks(
        due_clocks, monkeypatch):
    """No row locks at all (as if both scans read before either locked): the unique
    (clock, percent) row alone decides who fires."""
    real = escalation.due_clocks
    both_have_read = threading.Barrier(2)
    local = threading.local()

    def unlocked(*args, **kwargs):
        qs = real(*args, **kwargs)
        qs.query.select_for_update = False
        rows = list(qs)
        if not getattr(local, "waited", False):  # the first batch: wait for the other
            local.waited = True
            both_have_read.wait(timeout=10)
        return rows

    monkeypatch.setattr(escalation, "due_clocks", unlocked)
    handled = run_two_workers(escalation.fire_due_levels)
    assert handled == [CLOCKS, CLOCKS]  # both saw every clock...
    assert_fired_exactly_once(due_clocks)  # ...and each level still fired once


def test_a_retried_run_after_both_workers_changes_nothing(due_clocks):
    run_two_workers(escalation.fire_due_levels)
    assert escalation.fire_due_levels() == 0
    assert_fired_exactly_once(due_clocks)


# --- a real Celery worker ------------------------------------------------------------------

def _redis_url() -> str | None:
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception:  # noqa: BLE001 - any failure means "no Redis here"
        return None
    return url


@pytest.mark.timeout(120)
def test_a_duplicated_scan_task_on_a_real_worker_notifies_once(due_clocks):
    redis_url = _redis_url()
    if redis_url is None:
        pytest.skip("needs Redis on 127.0.0.1:6379 for a real Celery broker")
    from celery import Celery

    queue = f"sla-test-{uuid.uuid4().hex[:8]}"
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "helpdesk.settings_test",
        "HELPDESK_TESTING": "1",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    }
    celery_bin = shutil.which("celery", path=str(Path(sys.executable).parent)) or "celery"
    worker = subprocess.Popen(  # noqa: S603 - fixed arguments
        [celery_bin, "-A", "helpdesk", "--result-backend", redis_url, "worker",
         "--pool", "threads", "--concurrency", "2", "-Q", queue, "--without-heartbeat",
         "--without-mingle", "--without-gossip", "--loglevel", "WARNING"],
        env=env, cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    client = Celery("sla-test-client", broker=redis_url, backend=redis_url)
    try:
        # The beat fired twice (or a task was redelivered): two identical scans at once.
        sent = [client.send_task("sla.tasks.scan_due_clocks", queue=queue,
                                 ignore_result=False) for _ in range(2)]
        handled = [r.get(timeout=90) for r in sent]
        for r in sent:
            r.forget()
    finally:
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
        client.close()
        import redis

        redis.Redis.from_url(redis_url).delete(
            queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    assert sum(handled) == CLOCKS, output
    assert_fired_exactly_once(due_clocks)

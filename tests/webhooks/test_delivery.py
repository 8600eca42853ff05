"""Delivering webhooks to a local receiver: signing, idempotency, retries, auto-disable."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from helpdesk.models import Notification
from helpdesk.roles import Role
from tickets import events
from webhooks import delivery, signing, tasks
from webhooks.models import Attempt, Delivery, Endpoint

from ..factories import make_ticket, make_user

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def traveller():
    with time_machine.travel(T0, tick=False) as t:
        yield t


def scan() -> int:
    return tasks.retry_due_deliveries()


def test_ticket_created_is_signed_and_delivered_once(traveller, receiver, endpoint_for, run,
                                                     customer_a):
    endpoint = endpoint_for(receiver)
    ticket = run(make_ticket, customer_a, subject="Printer on fire")

    assert len(receiver.requests) == 1
    got = receiver.requests[0]
    assert got.signature_ok  # verified by the receiver with the endpoint's secret
    payload = got.payload
    assert payload["type"] == "ticket.created"
    assert got.headers["Idempotency-Key"] == payload["id"]
    assert got.headers["X-Helpdesk-Event"] == "ticket.created"
    assert payload["occurred_at"] == T0.isoformat()
    assert payload["data"]["ticket"]["id"] == ticket.pk
    assert payload["data"]["ticket"]["subject"] == "Printer on fire"
    assert endpoint.secret not in got.body.decode()

    row = Delivery.objects.get()
    assert (row.status, row.attempts, row.next_attempt_at) == ("succeeded", 1, None)
    attempt = Attempt.objects.get()
    assert (attempt.status_code, attempt.number, attempt.succeeded) == (200, 1, True)
    assert attempt.response_excerpt == "thanks"
    assert attempt.latency_ms >= 0


def test_signature_fails_for_another_body_secret_or_an_old_timestamp():
    body = b'{"id":"1"}'
    header = signing.header_value("whsec_a", 1_000_000, body)
    assert signing.verify("whsec_a", header, body, now=1_000_010)
    assert not signing.verify("whsec_a", header, b'{"id":"2"}', now=1_000_010)
    assert not signing.verify("whsec_b", header, body, now=1_000_010)
    assert not signing.verify("whsec_a", header, body, now=1_000_000 + 301)  # replayed late
    assert not signing.verify("whsec_a", "garbage", body, now=1_000_000)


def test_an_event_dispatched_twice_is_delivered_once(traveller, receiver, endpoint_for, run,
                                                     customer_a):
    endpoint_for(receiver, events=["ticket.updated"])
    ticket = make_ticket(customer_a)
    event = events.PriorityChanged(ticket_id=ticket.pk, actor_id=None, at=T0, before=3, after=1)
    run(events.dispatch, event)
    run(events.dispatch, event)  # e.g. an outbox or a handler retried

    assert Delivery.objects.count() == 1
    assert len(receiver.requests) == 1
    change = receiver.requests[0].payload["data"]["change"]
    assert change == {"kind": "priority", "actor_id": None, "before": 3, "after": 1}


def test_only_active_endpoints_that_want_the_event_get_it(traveller, receiver, endpoint_for,
                                                          run, customer_a):
    endpoint_for(receiver, events=["ticket.replied"], name="replies only")
    endpoint_for(receiver, events=["ticket.created"], name="off", is_active=False)
    run(make_ticket, customer_a)
    assert Delivery.objects.count() == 0
    assert receiver.requests == []


def test_a_500_is_retried_with_exponential_backoff_until_it_succeeds(
        traveller, receiver, endpoint_for, run, customer_a):
    receiver.mode = "error"
    endpoint = endpoint_for(receiver)
    run(make_ticket, customer_a)
    row = Delivery.objects.get()
    first = Attempt.objects.get()
    assert (first.status_code, first.succeeded, first.error) == (500, False, "HTTP 500")
    assert first.response_excerpt == '{"error": "boom"}'
    row.refresh_from_db()
    assert row.next_attempt_at == T0 + timedelta(minutes=1)
    endpoint.refresh_from_db()
    assert endpoint.failing_since == T0

    traveller.move_to(T0 + timedelta(seconds=59))
    assert scan() == 0  # not due yet
    traveller.move_to(T0 + timedelta(minutes=1))
    assert scan() == 1
    row.refresh_from_db()
    assert row.attempts == 2
    assert row.next_attempt_at == T0 + timedelta(minutes=1 + 2)

    receiver.mode = "ok"
    traveller.move_to(T0 + timedelta(minutes=3))
    scan()
    row.refresh_from_db()
    endpoint.refresh_from_db()
    assert (row.status, row.attempts, row.next_attempt_at) == ("succeeded", 3, None)
    assert endpoint.failing_since is None
    keys = {r.headers["Idempotency-Key"] for r in receiver.requests}
    assert len(receiver.requests) == 3 and keys == {str(row.event_id)}
    assert all(r.signature_ok for r in receiver.requests)
    assert list(Attempt.objects.order_by("number").values_list("number", "status_code")) == [
        (1, 500), (2, 500), (3, 200)]


def test_backoff_doubles_and_is_capped_at_an_hour():
    assert [delivery.backoff(n).total_seconds() / 60 for n in range(1, 9)] == [
        1, 2, 4, 8, 16, 32, 60, 60]


def test_connection_refused_is_logged_and_retried(traveller, refused_url, endpoint_for, run,
                                                  customer_a):
    endpoint_for(refused_url)
    run(make_ticket, customer_a)
    attempt = Attempt.objects.get()
    assert attempt.status_code is None and not attempt.succeeded
    assert "refused" in attempt.error.lower()
    assert Delivery.objects.get().status == "pending"


def test_a_slow_receiver_times_out(traveller, receiver, endpoint_for, run, customer_a):
    receiver.mode = "slow"
    endpoint_for(receiver, timeout=0.2)
    run(make_ticket, customer_a)
    receiver.release.set()
    attempt = Attempt.objects.get()
    assert attempt.status_code is None and not attempt.succeeded
    assert "timed out" in attempt.error.lower()
    assert len(receiver.requests) == 1  # it did arrive; the answer came too late
    row = Delivery.objects.get()
    assert row.status == "pending" and row.next_attempt_at == T0 + timedelta(minutes=1)


def test_a_day_of_failures_disables_the_endpoint_and_tells_the_admins_once(
        traveller, refused_url, endpoint_for, run, customer_a):
    admin = make_user(Role.ADMIN, username="root")
    agent = make_user(Role.AGENT, username="worker")
    endpoint = endpoint_for(refused_url)
    run(make_ticket, customer_a)
    row = Delivery.objects.get()
    # Follow the retries through the day, each at its due time.
    while True:
        row.refresh_from_db()
        endpoint.refresh_from_db()
        if row.next_attempt_at is None:
            break
        assert endpoint.is_active
        traveller.move_to(row.next_attempt_at)
        scan()
    endpoint.refresh_from_db()
    last = Attempt.objects.order_by("-number").first()
    assert not endpoint.is_active
    assert endpoint.disabled_at == last.at
    assert last.at >= T0 + timedelta(days=1)
    # The attempt before was still within the day: not disabled earlier than needed.
    before = Attempt.objects.get(number=last.number - 1)
    assert before.at < T0 + timedelta(days=1)
    assert row.status == "failed" and "disabled" in row.last_error

    notes = Notification.objects.filter(source="webhooks.disabled")
    assert list(notes.values_list("recipient__username", flat=True)) == ["root"]
    assert "CRM" in notes.get().title
    assert agent.pk not in notes.values_list("recipient_id", flat=True)
    assert admin.pk == notes.get().recipient_id

    traveller.shift(timedelta(hours=2))
    assert scan() == 0  # nothing more is sent to a disabled endpoint
    run(make_ticket, customer_a)
    assert Delivery.objects.count() == 1


def test_a_success_resets_the_day_of_failures(traveller, receiver, endpoint_for, run,
                                              customer_a):
    receiver.mode = "error"
    endpoint = endpoint_for(receiver)
    run(make_ticket, customer_a)
    traveller.move_to(T0 + timedelta(hours=20))
    receiver.mode = "ok"
    scan()
    receiver.mode = "error"
    traveller.move_to(T0 + timedelta(hours=30))
    run(make_ticket, customer_a)
    endpoint.refresh_from_db()
    assert endpoint.is_active
    assert endpoint.failing_since == T0 + timedelta(hours=30)


def test_redeliver_sends_the_same_event_again(traveller, receiver, endpoint_for, run,
                                              customer_a):
    from webhooks.publishing import redeliver

    endpoint_for(receiver)
    run(make_ticket, customer_a)
    row = Delivery.objects.get()
    traveller.shift(timedelta(hours=1))
    assert run(redeliver, [row]) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("succeeded", 2)
    first, second = receiver.requests
    assert first.body == second.body
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert first.headers[signing.HEADER] != second.headers[signing.HEADER]  # new timestamp
    assert second.signature_ok


def test_a_lost_task_is_sent_by_the_scan(traveller, receiver, endpoint_for, run, customer_a,
                                         monkeypatch):
    """At-least-once: the delivery row exists before its task; the scan finds it."""
    from webhooks import publishing

    endpoint = endpoint_for(receiver)
    monkeypatch.setattr(publishing, "_queue", lambda delivery_id: None)  # the broker lost it
    run(make_ticket, customer_a)
    assert Delivery.objects.filter(endpoint=endpoint, status="pending").count() == 1
    assert receiver.requests == []
    monkeypatch.undo()
    assert scan() == 1
    assert Delivery.objects.get().status == "succeeded"
    assert len(receiver.requests) == 1
    assert Endpoint.objects.get().failing_since is None


def test_the_readme_verifier_accepts_what_we_send(traveller, receiver, endpoint_for, run,
                                                  customer_a):
    """The snippet receivers copy from README ("Webhooks") verifies a real delivery."""
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("Verifying the signature", 1)[1]
    snippet = section.split("```python", 1)[1].split("```", 1)[0]
    scope: dict = {}
    exec(snippet, scope)  # noqa: S102 - our own documentation
    endpoint = endpoint_for(receiver)
    run(make_ticket, customer_a)
    got = receiver.requests[0]
    assert scope["verify"](endpoint.secret, got.headers[signing.HEADER], got.body)
    assert not scope["verify"]("whsec_other", got.headers[signing.HEADER], got.body)


def test_one_delivery_gives_up_after_the_maximum_attempts(traveller, receiver, endpoint_for,
                                                          run, customer_a):
    """A receiver that keeps refusing one payload while it accepts others."""
    receiver.mode = "error"
    endpoint = endpoint_for(receiver)
    run(make_ticket, customer_a)
    row = Delivery.objects.get()
    Delivery.objects.filter(pk=row.pk).update(attempts=delivery.MAX_ATTEMPTS - 1)
    traveller.shift(timedelta(minutes=1))
    assert scan() == 1
    row.refresh_from_db()
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", delivery.MAX_ATTEMPTS,
                                                              None)
    endpoint.refresh_from_db()
    assert endpoint.is_active  # failing for a minute only
    traveller.shift(timedelta(hours=2))
    assert scan() == 0


def test_an_event_nobody_wants_costs_no_query_once_cached(traveller, receiver, endpoint_for,
                                                          customer_a,
                                                          django_assert_num_queries):
    from webhooks import publishing

    endpoint_for(receiver, events=["ticket.replied"])
    publishing.fan_out("ticket.created", dict, key="warm", occurred_at=T0)
    with django_assert_num_queries(0):
        assert publishing.fan_out("ticket.created", dict, key="a", occurred_at=T0) == []
    endpoint_for(receiver, events=["ticket.created"], name="new")  # forgets the cache
    assert len(publishing.fan_out("ticket.created", lambda: {"x": 1}, key="b",
                                  occurred_at=T0)) == 1


def test_an_answer_that_is_not_http_is_a_logged_failure(traveller, receiver, endpoint_for,
                                                        run, customer_a):
    receiver.mode = "garbage"
    endpoint_for(receiver)
    run(make_ticket, customer_a)
    attempt = Attempt.objects.get()
    assert attempt.status_code is None and not attempt.succeeded
    assert attempt.error.startswith("BadStatusLine")
    assert Delivery.objects.get().next_attempt_at == T0 + timedelta(minutes=1)


def test_the_log_keeps_finished_deliveries_for_the_configured_days(
        traveller, refused_url, receiver, endpoint_for, run, customer_a, settings):
    settings.WEBHOOK_LOG_DAYS = 30
    endpoint_for(receiver)
    endpoint_for(refused_url, name="down")
    run(make_ticket, customer_a)
    assert Delivery.objects.count() == 2 and Attempt.objects.count() == 2
    traveller.shift(timedelta(days=30))
    assert tasks.prune_delivery_log() == 0  # not older than 30 days yet
    traveller.shift(timedelta(seconds=1))
    assert tasks.prune_delivery_log() == 1  # the delivered one
    assert list(Delivery.objects.values_list("status", flat=True)) == ["pending"]  # still owed
    assert Attempt.objects.count() == 1

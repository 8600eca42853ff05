"""Issue 21: the reactions a write does not wait for go through the outbox, once each."""
from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.utils import timezone
from kombu.exceptions import OperationalError

from helpdesk.roles import Role
from mailgate.models import Mailbox, OutboundEmail
from tests.factories import make_org, make_ticket, make_user, team
from tickets import events, services, tasks
from tickets.models import Channel, PendingEvents

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def email_ticket():
    Mailbox.objects.create(name="support", address="support@helpdesk.test", imap_host="")
    customer = make_user(Role.CUSTOMER, org=make_org(), email="erin@example.com")
    agent = make_user(Role.AGENT, teams=(team("l1-general"),))
    return make_ticket(customer, channel=Channel.EMAIL), agent


def reply_mails(ticket):
    return OutboundEmail.objects.filter(ticket=ticket, kind="reply")


def test_a_redelivered_outbox_task_changes_nothing(email_ticket):
    ticket, agent = email_ticket
    with mock.patch.object(tasks.handle_pending_events, "delay") as queued:
        services.add_reply(ticket, author=agent, body="Fixed in 4.2.1.")
    [pending_id] = [c.args[0] for c in queued.call_args_list]
    assert not reply_mails(ticket).exists()  # the request did not wait for it

    assert tasks.handle_pending_events(pending_id) is True
    assert tasks.handle_pending_events(pending_id) is False  # Redis handed it back
    assert reply_mails(ticket).count() == 1
    assert not PendingEvents.objects.filter(pk=pending_id).exists()


def _last_pending_id() -> int:
    # Rows are scoped to this test's own: on PostgreSQL another test's worker may leave one.
    return PendingEvents.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def test_reactions_run_in_the_request_when_their_task_cannot_be_queued(email_ticket):
    ticket, agent = email_ticket
    before = _last_pending_id()
    refused = OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    with mock.patch.object(tasks.handle_pending_events, "delay", side_effect=refused):
        services.add_reply(ticket, author=agent, body="Fixed in 4.2.1.")
    assert reply_mails(ticket).count() == 1
    assert not PendingEvents.objects.filter(pk__gt=before).exists()


def test_the_sweep_queues_a_lost_task_again_once(email_ticket):
    ticket, agent = email_ticket
    with mock.patch.object(tasks.handle_pending_events, "delay") as lost:  # taken, lost
        services.add_reply(ticket, author=agent, body="Fixed in 4.2.1.")
    [pending_id] = [c.args[0] for c in lost.call_args_list]
    with mock.patch.object(tasks.handle_pending_events, "delay") as requeued:
        tasks.requeue_pending_events()
    assert pending_id not in [c.args[0] for c in requeued.call_args_list]  # too young
    with time_machine.travel(timezone.now() + timedelta(minutes=3), tick=False):
        # The queue is observed, not run: whether Celery runs tasks eagerly here is the
        # test settings' business (and another test may have turned it off).
        with mock.patch.object(tasks.handle_pending_events, "delay") as requeued:
            tasks.requeue_pending_events()
        assert [c.args[0] for c in requeued.call_args_list].count(pending_id) == 1
        assert tasks.handle_pending_events(pending_id) is True  # the worker takes it
        with mock.patch.object(tasks.handle_pending_events, "delay") as again:
            tasks.requeue_pending_events()
        assert pending_id not in [c.args[0] for c in again.call_args_list]  # once
    assert reply_mails(ticket).count() == 1


def test_events_travel_as_data_and_back():
    at = timezone.now()
    for event in (events.PublicReply(1, 2, at, 3, True),
                  events.TagsChanged(1, None, at, ("a",), ("a", "b")),
                  events.StatusChanged(1, 2, at, "new", "assigned")):
        assert events.from_payload(events.to_payload(event)) == event

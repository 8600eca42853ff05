"""Public updates reach every linked ticket exactly once, even when the task runs twice
or stops half-way; tickets that cannot take a reply are recorded and skipped."""
from __future__ import annotations

import pytest

from incidents import services, tasks
from incidents.models import PublicUpdate, UpdateDelivery
from tests.factories import make_ticket
from tickets.models import Message

from .conftest import close


def update_messages(ticket, text="Engineers are rolling back"):
    return Message.objects.filter(ticket=ticket, is_public=True, body__contains=text)


def test_update_reaches_each_requester_once(declare, run, lead, tickets):
    incident = declare(tickets=tickets)
    update = run(services.publish_update, incident, kind="initial",
                 body="Engineers are rolling back the release.", actor=lead)
    for t in tickets:
        msgs = update_messages(t)
        assert msgs.count() == 1
        m = msgs.get()
        assert m.by_agent and m.author == lead
        assert f"/status/incidents/{incident.pk}/" in m.body
    assert UpdateDelivery.objects.filter(update=update, skipped="").count() == 3
    update.refresh_from_db()
    assert update.fanout_completed_at is not None
    # The task retried (worker lost, duplicate delivery of the message): nothing new.
    tasks.fan_out_update(update.pk)
    tasks.fan_out_update(update.pk)
    assert [update_messages(t).count() for t in tickets] == [1, 1, 1]


def test_interrupted_fan_out_resumes_without_duplicates(declare, lead, clock, customer_a):
    many = [make_ticket(customer_a, subject=f"Down {n}") for n in range(7)]
    incident = declare(tickets=many)
    # Published without running the after-commit task: the fan-out has not started.
    update = services.publish_update(incident, kind="initial",
                                     body="Engineers are rolling back.", actor=lead)
    assert services.deliver_chunk(update.pk, limit=3) == 3  # first chunk, then "crash"
    assert UpdateDelivery.objects.filter(update=update).count() == 3
    stats = services.fan_out(update.pk, chunk=3)  # the retry handles the rest in chunks
    assert (stats.delivered, stats.chunks) == (4, 2)  # 3 + 1, then 0 left
    assert [update_messages(t).count() for t in many] == [1] * 7
    assert services.fan_out(update.pk, chunk=3).delivered == 0


def test_closed_ticket_is_skipped_and_recorded(declare, run, lead, agent, tickets):
    closed = tickets[0]
    close(closed, agent)
    incident = declare(tickets=tickets)
    update = run(services.publish_update, incident, kind="initial",
                 body="Engineers are rolling back.", actor=lead)
    skipped = UpdateDelivery.objects.get(update=update, ticket=closed)
    assert "closed" in skipped.skipped and skipped.message_id is None
    assert update_messages(closed).count() == 0
    assert [update_messages(t).count() for t in tickets[1:]] == [1, 1]


def test_update_is_on_the_timeline_and_counts_as_first_response(declare, run, lead, tickets):
    incident = declare(tickets=tickets[:1])
    run(services.publish_update, incident, kind="initial", body="Engineers are rolling back.",
        actor=lead)
    assert incident.timeline.filter(kind="update").count() == 1
    tickets[0].refresh_from_db()
    assert tickets[0].first_response_at is not None


def test_only_comms_roles_publish(declare, agent, tickets):
    import pytest
    from django.core.exceptions import PermissionDenied

    incident = declare(tickets=tickets)
    with pytest.raises(PermissionDenied):
        services.publish_update(incident, kind="update", body="x", actor=agent)
    assert PublicUpdate.objects.count() == 0


# --- the set-wise chunk --------------------------------------------------------------

def _linked(run, declare, customer, n, *, followed_by=None):
    """`n` tickets with running SLA clocks (their creation handled), linked to a new
    incident; every ticket followed by `followed_by` if given."""
    from tickets.models import TicketFollower

    many = [run(make_ticket, customer, subject=f"Down {i}") for i in range(n)]
    if followed_by is not None:
        TicketFollower.objects.bulk_create([TicketFollower(ticket=t, user=followed_by)
                                            for t in many])
    return many, declare(tickets=many, title=f"Outage of {n}")


def test_a_chunk_costs_the_same_queries_for_ten_or_fifty_tickets(
        declare, run, lead, clock, customer_a, agent, django_capture_on_commit_callbacks):
    """Replies, delivery rows, SLA clocks, e-mail suppression and follower checks are
    written set-wise: a chunk's queries, after-commit reactions included, do not grow
    with its tickets."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from sla.models import Clock

    def queries(n: int) -> int:
        many, incident = _linked(run, declare, customer_a, n)
        assert Clock.objects.filter(ticket__in=many, completed_at__isnull=True).exists()
        update = services.publish_update(incident, kind="update", actor=lead,
                                         body="Engineers are rolling back.")
        with CaptureQueriesContext(connection) as ctx, \
                django_capture_on_commit_callbacks(execute=True):
            assert services.deliver_chunk(update.pk, limit=100) == n
        assert [update_messages(t, "rolling back").count() for t in many] == [1] * n
        return len(ctx.captured_queries)

    assert queries(10) == queries(50)


@pytest.mark.parametrize("blind", [False, True])
def test_chunk_that_read_a_delivery_too_late_gives_each_ticket_one_reply(
        blind, declare, run, lead, clock, customer_a):
    """Another worker delivered a ticket after this chunk listed it as pending. The
    check under the tickets' locks leaves it out; and should that check miss it too
    (`blind`), the chunk's set-wise insert fails on the unique delivery row and the chunk
    is redone ticket by ticket. Either way: one reply each, none twice, none skipped."""
    from unittest import mock

    from incidents.services import delivery

    many, incident = _linked(run, declare, customer_a, 5)
    update = services.publish_update(incident, kind="update", actor=lead,
                                     body="Engineers are rolling back.")
    run(services.deliver_chunk, update.pk, limit=1)  # the other worker: the first ticket
    assert [update_messages(t).count() for t in many] == [1, 0, 0, 0, 0]
    stats = services.FanOutStats()
    with mock.patch.object(delivery, "_pending", return_value=[t.pk for t in many]), \
            mock.patch.object(delivery, "_delivered_among", side_effect=(
                (lambda update_id, ids: set()) if blind else delivery._delivered_among)), \
            mock.patch.object(delivery, "_deliver_one_by_one",
                              wraps=delivery._deliver_one_by_one) as one_by_one:
        run(services.deliver_chunk, update.pk, limit=10, stats=stats)
    assert one_by_one.called == blind
    assert (stats.delivered, stats.skipped) == (4, 0)
    assert [update_messages(t).count() for t in many] == [1] * 5
    assert UpdateDelivery.objects.filter(update=update).count() == 5
    assert UpdateDelivery.objects.filter(update=update, dispatched_at__isnull=True).count() == 0

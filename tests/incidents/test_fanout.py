"""Public updates reach every linked ticket exactly once, even when the task runs twice
or stops half-way; tickets that cannot take a reply are recorded and skipped."""
from __future__ import annotations

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

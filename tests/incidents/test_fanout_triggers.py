"""An incident's public update, fanned out set-wise, fires the agent-reply triggers of each
linked ticket, as a reply written on each one would; the status cascade fires the
status-changed ones."""
from __future__ import annotations

import pytest

from incidents import services
from tests.factories import make_ticket
from tickets.models import RuleFire, Ticket, Trigger

pytestmark = pytest.mark.django_db


def _tags(ticket: Ticket) -> set[str]:
    return set(Ticket.objects.get(pk=ticket.pk).tags.values_list("name", flat=True))


def test_an_update_fires_agent_reply_triggers_on_each_linked_ticket(declare, lead, clock,
                                                                    customer_a):
    linked = [make_ticket(customer_a, subject=f"Down {n}") for n in range(4)]
    incident = declare(tickets=linked)
    rule = Trigger.objects.create(
        name="Incident replies are tagged", events=["agent_reply"],
        conditions=[{"field": "text", "op": "contains", "value": "rolling back"}],
        actions=[{"action": "add_tags", "value": "incident"}])
    update = services.publish_update(incident, kind="initial",
                                     body="Engineers are rolling back.", actor=lead)
    assert services.deliver_chunk(update.pk, limit=10) == 4
    assert [_tags(t) for t in linked] == [{"incident"}] * 4
    fires = RuleFire.objects.filter(trigger=rule)
    assert sorted(fires.values_list("ticket_id", flat=True)) == sorted(t.pk for t in linked)
    # Delivered again (a retried task): no reply, so no second fire.
    assert services.deliver_chunk(update.pk, limit=10) == 0
    assert fires.count() == 4

"""A change of custom field values is a "ticket updated" webhook event like any other field
change, naming the fields that changed."""
from __future__ import annotations

import pytest

from tickets import services
from tickets.models import CustomField
from webhooks.models import EventType

from ..factories import make_ticket

pytestmark = pytest.mark.django_db


def test_a_custom_field_change_is_sent_as_a_ticket_update(receiver, endpoint_for, customer_a,
                                                          agent,
                                                          django_capture_on_commit_callbacks):
    endpoint_for(receiver, events=[EventType.TICKET_UPDATED])
    CustomField.objects.create(key="plan", label="Plan", field_type="dropdown",
                               choices=["Basic", "Pro"])
    ticket = make_ticket(customer_a)
    with django_capture_on_commit_callbacks(execute=True):
        services.update_ticket(ticket, actor=agent, changes={"custom_fields": {"plan": "Pro"}})
    with django_capture_on_commit_callbacks(execute=True):  # the same value: no change
        services.update_ticket(ticket, actor=agent, changes={"custom_fields": {"plan": "Pro"}})
    changes = [r.payload["data"]["change"] for r in receiver.requests
               if r.payload["type"] == "ticket.updated"]
    assert changes == [{"kind": "custom_fields", "actor_id": agent.pk, "keys": ["plan"]}]
    assert all(r.signature_ok for r in receiver.requests)

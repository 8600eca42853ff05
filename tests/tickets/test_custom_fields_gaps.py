"""Custom fields where issue 23 left gaps: merges carry them, the agent's new-ticket form
asks for them, the ticket list API filters on them (typed, documented, clear 400s)."""
from __future__ import annotations

import pytest

from helpdesk.roles import Role
from tickets import services
from tickets.models import EventKind, Ticket, TicketEvent

from ..factories import make_ticket, make_user
from .test_custom_fields import _fresh_config, billing, field, fields  # noqa: F401

pytestmark = pytest.mark.django_db


# --- merge -----------------------------------------------------------------------------

def test_merge_keeps_the_originals_values_and_fills_its_empty_ones(customer_a, agent,
                                                                    fields, org_a):
    original = make_ticket(customer_a, subject="Original",
                           custom_fields={"plan": "Pro", "seats": 5})
    duplicate = make_ticket(customer_a, subject="Duplicate",
                            custom_fields={"plan": "Basic", "version": "4.2",
                                           "modules": ["API"], "account": org_a.pk})
    services.merge(duplicate, into=original, actor=agent)
    original.refresh_from_db()
    assert original.custom_fields == {"plan": "Pro", "seats": 5, "version": "4.2",
                                      "modules": ["API"], "account": org_a.pk}
    carried = {e.field: e for e in TicketEvent.objects.filter(
        ticket=original, kind=EventKind.FIELD, field__startswith="custom:")}
    assert set(carried) == {"custom:version", "custom:modules", "custom:account"}
    assert (carried["custom:account"].before, carried["custom:account"].after,
            carried["custom:account"].actor) == ("", "Acme", agent)
    # The duplicate keeps what it had (its history stays as it was).
    duplicate.refresh_from_db()
    assert duplicate.custom_fields["plan"] == "Basic"


def test_merge_without_values_to_carry_records_no_field_event(customer_a, agent, fields):
    original = make_ticket(customer_a, custom_fields={"plan": "Pro"})
    duplicate = make_ticket(customer_a, custom_fields={"plan": "Basic"})
    services.merge(duplicate, into=original, actor=agent)
    assert not TicketEvent.objects.filter(ticket=original, field__startswith="custom:")
    assert Ticket.objects.get(pk=original.pk).custom_fields == {"plan": "Pro"}


def test_merge_leaves_values_of_retired_fields_behind(customer_a, agent, fields):
    original = make_ticket(customer_a)
    duplicate = make_ticket(customer_a, custom_fields={"version": "1.0", "seats": 3})
    fields["version"].is_active = False
    fields["version"].save()
    services.merge(duplicate, into=original, actor=agent)
    assert Ticket.objects.get(pk=original.pk).custom_fields == {"seats": 3}

"""The demo data: one active SEV2 with updates, one resolved with a review; idempotent."""
from __future__ import annotations

import io

from helpdesk.roles import Role
from incidents.demo import seed_demo
from incidents.models import ActionItem, Incident, Review, UpdateDelivery
from tests.factories import make_ticket, make_user


def test_demo_is_idempotent(clock, l1, customer_a):
    make_user(Role.TEAM_LEAD, username="lead", teams=(l1,), lead=True)
    make_user(Role.AGENT, username="agent", teams=(l1,))
    for n in range(8):
        make_ticket(customer_a, subject=f"Login broken {n}")
    seed_demo(io.StringIO())
    seed_demo(io.StringIO())
    active = Incident.objects.get(status="identified")
    assert active.severity.level == 2 and active.links.count() == 5
    assert UpdateDelivery.objects.filter(update__incident=active).count() == 5
    resolved = Incident.objects.get(status="resolved")
    assert Review.objects.get().incident == resolved
    assert ActionItem.objects.count() == 2

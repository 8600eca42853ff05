"""API test helpers: a client signed in as a given user, and a clean throttle cache."""
from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories import make_ticket


@pytest.fixture(autouse=True)
def _clear_throttles():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def client_for(db):
    def make(user) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def assigned_ticket(agent, customer_a):
    """customer_a's ticket, given to `agent` by the L1 round robin."""
    ticket = make_ticket(customer_a, subject="Webhook deliveries fail",
                         description="Every webhook since noon returns 502.")
    assert ticket.status == "assigned" and ticket.assignee_id == agent.pk
    return ticket


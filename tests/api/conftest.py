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



def pytest_terminal_summary(terminalreporter) -> None:
    """The Schemathesis cases run, per role, database and phase (tests/api/test_fuzz.py)."""
    from .test_fuzz import CASES

    if not CASES:
        return
    terminalreporter.section("Schemathesis cases")
    for who in sorted({w for w, _, _ in CASES}):
        for vendor in sorted({v for w, v, _ in CASES if w == who}):
            phases = {p: n for (w, v, p), n in CASES.items() if (w, v) == (who, vendor)}
            detail = ", ".join(f"{p} {n}" for p, n in sorted(phases.items()))
            terminalreporter.write_line(
                f"{who} on {vendor}: {sum(phases.values())} cases ({detail})")

"""Casework test kit: categories, playbooks, a frozen clock, and actions that commit.

Ticket domain events are dispatched on commit, which never happens inside a test
transaction: `committed()` runs the callbacks right after the block, as production does.
"""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from casework.models import Playbook, PlaybookStep
from helpdesk.roles import Role
from tests.factories import make_user
from tickets.models import Category, ProductArea

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def travel():
    """travel(dt): move the frozen clock to dt (no ticking)."""
    machines = []

    def go(when: datetime) -> None:
        if machines:
            machines[-1].stop()
        m = time_machine.travel(when, tick=False)
        m.start()
        machines.append(m)

    yield go
    if machines:
        machines[-1].stop()


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    def run():
        return django_capture_on_commit_callbacks(execute=True)
    return run


@pytest.fixture
def api_cat(db):
    return Category.objects.get_or_create(name="CW API errors", slug="cw-api")[0]


@pytest.fixture
def billing_cat(db):
    return Category.objects.get_or_create(name="CW Billing", slug="cw-billing")[0]


@pytest.fixture
def exports_area(db):
    return ProductArea.objects.get_or_create(name="CW Exports", slug="cw-exports")[0]


def make_playbook(name: str, *, categories=(), areas=(), active: bool = True,
                  created_at: datetime = T0, steps: int = 2) -> Playbook:
    p = Playbook.objects.create(name=name, is_active=active, created_at=created_at)
    p.categories.set(categories)
    p.product_areas.set(areas)
    for i in range(1, steps + 1):
        PlaybookStep.objects.create(playbook=p, order=i, title=f"{name} step {i}",
                                    collect=f"collect {i}", decide=f"decide {i}")
    return p


@pytest.fixture
def csm(db):
    return make_user(Role.AGENT, username="cassie_csm")

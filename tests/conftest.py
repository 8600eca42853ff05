"""Shared fixtures: two customer organizations, agents in two teams, a manager."""
from __future__ import annotations

import pytest

from helpdesk.models import SupportTier
from helpdesk.roles import Role

from .factories import make_org, make_ticket, make_user, team


@pytest.fixture
def l1(db):
    return team("l1-general")


@pytest.fixture
def l2(db):
    return team("l2-technical")


@pytest.fixture
def org_a(db):
    return make_org("Acme", tier=SupportTier.ENTERPRISE, domain="acme.example")


@pytest.fixture
def org_b(db):
    return make_org("Globex", tier=SupportTier.STARTER, domain="globex.example")


@pytest.fixture
def customer_a(org_a):
    return make_user(Role.CUSTOMER, org=org_a, username="alice")


@pytest.fixture
def customer_b(org_b):
    return make_user(Role.CUSTOMER, org=org_b, username="bob")


@pytest.fixture
def org_admin_a(org_a):
    return make_user(Role.CUSTOMER, org=org_a, username="amanda", is_org_admin=True)


@pytest.fixture
def agent(l1):
    return make_user(Role.AGENT, teams=(l1,), username="agnes")


@pytest.fixture
def l2_agent(l2):
    return make_user(Role.AGENT, teams=(l2,), username="leo")


@pytest.fixture
def lead(l1):
    return make_user(Role.TEAM_LEAD, teams=(l1,), lead=True, username="lena")


@pytest.fixture
def manager(db):
    return make_user(Role.MANAGER, username="max")


@pytest.fixture
def admin_user(db):
    return make_user(Role.ADMIN, username="root_admin")


@pytest.fixture
def ticket_a(customer_a):
    return make_ticket(customer_a)


@pytest.fixture
def ticket_b(customer_b):
    return make_ticket(customer_b, subject="Invoice is wrong",
                       description="We were charged twice in October.")


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters live in the cache; every test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _site_language_after_each_test():
    """A request of a user who chose German leaves German active in the thread (Django's
    LocaleMiddleware activates, nothing deactivates): the next test starts in the site's
    language, as a fresh request or job would."""
    from django.utils import translation

    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _celery_join_flag_reset():
    """Celery keeps "inside a task, never block on a result" in one process-wide flag that
    an eager task sets and restores around itself. Eager tasks run by a test's own writer
    threads interleave (A sets, B saves True, A restores, B restores True) and can leave
    it set, so a later test's `result.get()` on a real worker raises "Never call
    result.get() within a task!" and queuing from on_commit misbehaves. Tests start clean."""
    from celery._state import _set_task_join_will_block

    _set_task_join_will_block(False)
    yield
    _set_task_join_will_block(False)


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Run a callable and the tasks it queues after commit (Celery is eager in tests)."""
    def call(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)
    return call

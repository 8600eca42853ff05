"""Fixtures of the translation tests: a German-speaking customer and agent."""
from __future__ import annotations

import pytest

from helpdesk.roles import Role
from tests.factories import make_user


@pytest.fixture
def kunde(org_a):
    """A customer who chose German in her preferences."""
    return make_user(Role.CUSTOMER, org=org_a, username="greta", language="de",
                     time_zone="Europe/Berlin")


@pytest.fixture
def agentin(l1):
    """An agent who chose German."""
    return make_user(Role.AGENT, teams=(l1,), username="anke", language="de",
                     time_zone="Europe/Berlin")

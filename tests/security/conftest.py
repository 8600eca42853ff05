"""The matrix world, built through the services for each test (one DB transaction)."""
from __future__ import annotations

import pytest

from . import world as W


@pytest.fixture
def world(db) -> W.World:
    return W.build()

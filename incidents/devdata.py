"""The incidents app's development data (see helpdesk/generators.py)."""
from __future__ import annotations

from helpdesk import generators

from .demo import seed_demo

generators.register(generators.Generator("incidents", order=40, demo=seed_demo))

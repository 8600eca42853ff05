"""The mailgate app's development data (see helpdesk/generators.py)."""
from __future__ import annotations

from helpdesk import generators

from .demo import seed_demo

generators.register(generators.Generator("mailgate", order=50, demo=seed_demo))

"""Demo data of the casework app, added by `manage.py demo` after tickets and accounts exist."""
from __future__ import annotations

from typing import TextIO


def seed_demo(stdout: TextIO) -> None:
    """Idempotent: a second run changes nothing."""

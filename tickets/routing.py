"""Routing defaults: the team of tickets no trigger routes.

(Intake rules became triggers on "created": `tickets.rules`.)
"""
from __future__ import annotations

from helpdesk import config_cache
from helpdesk.models import Team


def default_team() -> Team | None:
    """The team of tickets no rule routes (held per process: tickets.apps)."""
    return config_cache.get("tickets.default_team",
                            lambda: Team.objects.filter(is_default=True).first())

"""Default teams of a new installation: the four support tiers (editable afterwards)."""
from __future__ import annotations

from typing import Any

DEFAULT_TEAMS = [
    ("L1 General", "l1-general", "l1", "round_robin", True,
     "First line: triage, how-to questions, account and billing."),
    ("L2 Technical", "l2-technical", "l2", "least_loaded", False,
     "Technical investigation: API errors, integrations, performance."),
    ("L2 Enterprise", "l2-enterprise", "l2_enterprise", "skill_based", False,
     "Dedicated technical support for enterprise customers."),
    ("L3 Specialty", "l3-specialty", "l3", "manual", False,
     "Specialists and the bridge to engineering."),
]


def seed_default_teams(team_model: Any) -> None:
    """Create the default teams when there are none (a new or flushed database)."""
    if team_model.objects.exists():
        return
    for name, slug, tier, strategy, default, description in DEFAULT_TEAMS:
        team_model.objects.create(
            name=name, slug=slug, tier=tier, assignment_strategy=strategy,
            is_default=default, description=description,
        )

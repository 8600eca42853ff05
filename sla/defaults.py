"""Default SLA set-up of a new installation: the common priority matrix (editable)."""
from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal
from typing import Any

H = timedelta(hours=1)
M = timedelta(minutes=1)
BUSINESS_DAY = 8 * H

# priority: (first response, resolution, periodic update); P1 runs 24/7, the rest on
# business hours. Next response shares the first-response target.
MATRIX = {
    1: (15 * M, 4 * H, 30 * M),
    2: (1 * H, 8 * H, 2 * H),
    3: (4 * H, 24 * H, 8 * H),
    4: (8 * H, 72 * H, None),
    5: (24 * H, 5 * BUSINESS_DAY, None),
}
INTERNAL_SHARE = Decimal("0.75")  # internal goals are a quarter tighter than the contract
TIER_MULTIPLIERS = {
    "enterprise": Decimal("0.5"), "business": Decimal("1"), "professional": Decimal("1.5"),
    "starter": Decimal("2"), "free": Decimal("4"),
}
# percent, colour, assignee, team lead, managers, raise priority
LEVELS = [
    (50, "yellow", False, False, False, False),
    (80, "orange", True, False, False, False),
    (90, "red", True, True, False, False),
    (100, "breach", True, True, True, True),
    (200, "severe", True, True, True, False),
]


def seed_default_sla(apps_or_models: Any) -> None:
    """Create the default calendars, policy, targets, levels and multipliers if none exist."""
    get = apps_or_models.get_model if hasattr(apps_or_models, "get_model") else (
        lambda label, name: apps_or_models[name])
    Calendar = get("sla", "Calendar")  # noqa: N806 - model classes
    BusinessHours = get("sla", "BusinessHours")  # noqa: N806
    Policy = get("sla", "Policy")  # noqa: N806
    Target = get("sla", "Target")  # noqa: N806
    Level = get("sla", "Level")  # noqa: N806
    TierMultiplier = get("sla", "TierMultiplier")  # noqa: N806
    if not TierMultiplier.objects.exists():
        TierMultiplier.objects.bulk_create(
            [TierMultiplier(tier=t, factor=f) for t, f in TIER_MULTIPLIERS.items()])
    if Policy.objects.exists():
        return
    always = Calendar.objects.create(name="24/7", timezone="UTC", always_open=True)
    office = Calendar.objects.create(name="Business hours", timezone="UTC")
    BusinessHours.objects.bulk_create([
        BusinessHours(calendar=office, weekday=d, start=time(9), end=time(17))
        for d in range(5)
    ])
    policy = Policy.objects.create(
        name="Standard support", order=100,
        description="The common priority matrix; tier multipliers apply.",
    )
    targets = []
    for priority, (first, resolution, update) in MATRIX.items():
        calendar = always if priority == 1 else office
        for metric, value in (("first_response", first), ("next_response", first),
                              ("resolution", resolution), ("periodic_update", update)):
            if value is None:
                continue
            internal = timedelta(seconds=int(value.total_seconds() * float(INTERNAL_SHARE)))
            targets.append(Target(policy=policy, priority=priority, metric=metric,
                                  contractual=value, internal=internal, calendar=calendar))
    Target.objects.bulk_create(targets)
    Level.objects.bulk_create([
        Level(policy=policy, percent=p, colour=c, notify_assignee=a, notify_team_lead=lead,
              notify_managers=mgr, raise_priority=raise_)
        for p, c, a, lead, mgr, raise_ in LEVELS
    ])

"""Which SLA policy applies to a ticket, and the exact targets it gets under it.

`match_policy` walks the active policies in order and returns the first whose
conditions all hold (an empty condition matches every ticket). `targets_for`
turns the policy's targets for the ticket's priority into the durations its clocks
run against: temporary overrides active at the given instant first (a replacement
sets the contractual target and scales the internal one by the same ratio, a factor
multiplies both), then the organization's tier multiplier.

Durations stay exact: all arithmetic is done on integer microseconds with
`fractions.Fraction` (a Decimal factor converts to a Fraction without loss) and the
result is rounded half-up to the microsecond once, at the end.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from math import floor
from typing import TYPE_CHECKING

from helpdesk import config_cache
from tickets.custom_fields import conditions_hold

from .calendar import BusinessCalendar
from .models import Calendar, Override, Policy, Target, TierMultiplier

if TYPE_CHECKING:
    from tickets.models import Ticket

__all__ = [
    "ResolvedTarget", "active_policies", "policy_matches", "match_policy", "tier_factor",
    "active_overrides", "targets_for", "business_calendar_of", "TargetBook",
]

_US = timedelta(microseconds=1)
_HALF = Fraction(1, 2)


@dataclass(frozen=True)
class ResolvedTarget:
    """What one clock of a ticket runs against, after overrides and the tier multiplier."""

    contractual: timedelta
    internal: timedelta
    calendar: Calendar | None
    business: BusinessCalendar


def business_calendar_of(calendar: Calendar | None) -> BusinessCalendar:
    """The pure calendar of a calendar row; no row means the clock runs 24/7."""
    return calendar.business_calendar() if calendar is not None else BusinessCalendar.always()


# --- matching -------------------------------------------------------------------------

def active_policies() -> list[Policy]:
    """Active policies in evaluation order, with their team and tag conditions loaded
    (held per process until an SLA setting changes: sla.apps)."""
    return config_cache.get("sla.active_policies", lambda: list(
        Policy.objects.filter(is_active=True)
        .prefetch_related("teams", "tags")
        .order_by("order", "id")
    ))


def _tier_factors() -> dict[str, Decimal]:
    return config_cache.get("sla.tier_factors", lambda: dict(
        TierMultiplier.objects.values_list("tier", "factor")))


def _all_overrides() -> list[Override]:
    return config_cache.get("sla.overrides", lambda: list(
        Override.objects.order_by("starts_at", "id")))


def _targets_of(policy_id: int) -> dict[int, list[Target]]:
    """Priority -> the policy's Target rows (calendars loaded), held per process."""
    def load() -> dict[int, list[Target]]:
        rows: dict[int, list[Target]] = {}
        for row in (Target.objects.filter(policy_id=policy_id).select_related("calendar")
                    .order_by("pk")):
            rows.setdefault(row.priority, []).append(row)
        return rows
    return config_cache.get(f"sla.targets.{policy_id}", load)


def _priorities(policy: Policy) -> set[int]:
    return {int(p) for p in policy.priorities or []}


def policy_matches(policy: Policy, ticket: Ticket, *,
                   tag_ids: Iterable[int] | None = None) -> bool:
    """True when every condition the policy sets holds for the ticket."""
    if policy.org_tiers:
        org = ticket.organization
        if org is None or org.support_tier not in policy.org_tiers:
            return False
    if policy.priorities and ticket.priority not in _priorities(policy):
        return False
    if policy.channels and ticket.channel not in policy.channels:
        return False
    team_ids = {t.pk for t in policy.teams.all()}
    if team_ids and ticket.team_id not in team_ids:
        return False
    policy_tags = {t.pk for t in policy.tags.all()}
    if policy_tags:
        if tag_ids is None:
            tag_ids = ticket.tags.values_list("pk", flat=True)
        if not policy_tags.intersection(tag_ids):
            return False
    return conditions_hold(ticket, policy.custom_field_conditions or ())


def match_policy(ticket: Ticket, *, policies: Sequence[Policy] | None = None,
                 tag_ids: Iterable[int] | None = None) -> Policy | None:
    """The first active policy (by order) whose conditions match the ticket, or None.

    `policies` lets a bulk caller load the active policies once (see active_policies()),
    and `tag_ids` the ticket's tags, read for many tickets at once.
    """
    if policies is None:
        policies = active_policies()
    for policy in policies:
        if tag_ids is None and policy.tags.all():
            # Only read the ticket's tags when some policy asks about them.
            tag_ids = set(ticket.tags.values_list("pk", flat=True))
        if policy_matches(policy, ticket, tag_ids=tag_ids):
            return policy
    return None


# --- targets --------------------------------------------------------------------------

def tier_factor(ticket: Ticket, policy: Policy) -> Decimal:
    """The multiplier of the ticket's organization tier (1 without organization or row)."""
    if not policy.apply_tier_multipliers or ticket.organization_id is None:
        return Decimal(1)
    factor = _tier_factors().get(ticket.organization.support_tier)
    return Decimal(1) if factor is None else factor


def active_overrides(policy: Policy, *, at: datetime) -> list[Override]:
    """Overrides of this policy (or of every policy) whose window [starts, ends) holds `at`."""
    return [o for o in _all_overrides() if o.starts_at <= at < o.ends_at
            and o.policy_id in (None, policy.pk)]


def _override_applies(override: Override, priority: int, metric: str) -> bool:
    if override.priorities and priority not in {int(p) for p in override.priorities}:
        return False
    return not (override.metrics and metric not in override.metrics)


def _us(value: timedelta) -> int:
    return value // _US


def _round(value: Fraction) -> timedelta:
    """Round half-up to the microsecond; a target is never shorter than 1 µs."""
    return timedelta(microseconds=max(1, floor(value + _HALF)))


def resolve_target(target: Target, *, factor: Decimal,
                   overrides: Iterable[Override] = ()) -> ResolvedTarget:
    """Apply overrides (in order) and the tier factor to one Target row, exactly."""
    contractual = Fraction(_us(target.contractual))
    internal = Fraction(_us(target.internal)) if target.internal else contractual
    for override in overrides:
        if override.replacement is not None:
            replacement = Fraction(_us(override.replacement))
            internal = internal * replacement / contractual
            contractual = replacement
        if override.factor is not None:
            contractual *= Fraction(override.factor)
            internal *= Fraction(override.factor)
    contractual *= Fraction(factor)
    internal *= Fraction(factor)
    internal = min(internal, contractual)
    return ResolvedTarget(
        contractual=_round(contractual),
        internal=_round(internal),
        calendar=target.calendar,
        business=business_calendar_of(target.calendar),
    )


def targets_for(ticket: Ticket, policy: Policy, *, at: datetime) -> dict[str, ResolvedTarget]:
    """Metric -> resolved target for the ticket's priority under `policy`.

    `at` selects the overrides in force: pass the instant the clock starts (or started,
    when recomputing), so a ticket opened during a high-volume period keeps its targets.
    Metrics without a Target row for the priority are absent: they get no clock.
    """
    rows = _targets_of(policy.pk).get(ticket.priority, [])
    if not rows:
        return {}
    factor = tier_factor(ticket, policy)
    overrides = active_overrides(policy, at=at)
    return {
        row.metric: resolve_target(
            row, factor=factor,
            overrides=[o for o in overrides
                       if _override_applies(o, ticket.priority, row.metric)],
        )
        for row in rows
    }


class TargetBook:
    """`targets_for` for many tickets: the Target, TierMultiplier and Override rows are read
    once (small tables), then every ticket is resolved in memory, the same way."""

    def __init__(self) -> None:
        self._rows: dict[tuple[int, int], list[Target]] = {}
        self._loaded: set[int] = set()
        self._tiers = dict(TierMultiplier.objects.values_list("tier", "factor"))
        self._overrides = list(Override.objects.order_by("starts_at", "id"))
        self._resolved: dict[tuple, dict[str, ResolvedTarget]] = {}

    def _targets(self, policy: Policy, priority: int) -> list[Target]:
        if policy.pk not in self._loaded:
            for row in (Target.objects.filter(policy=policy).select_related("calendar")
                        .order_by("pk")):
                self._rows.setdefault((policy.pk, row.priority), []).append(row)
            self._loaded.add(policy.pk)
        return self._rows.get((policy.pk, priority), [])

    def targets(self, ticket: Ticket, policy: Policy, *,
                at: datetime) -> dict[str, ResolvedTarget]:
        rows = self._targets(policy, ticket.priority)
        if not rows:
            return {}
        factor = Decimal(1)
        if policy.apply_tier_multipliers and ticket.organization_id is not None:
            factor = self._tiers.get(ticket.organization.support_tier, Decimal(1))
        overrides = tuple(o for o in self._overrides if o.starts_at <= at < o.ends_at
                          and o.policy_id in (None, policy.pk))
        # Tickets of one priority and tier under the same overrides share their targets.
        key = (policy.pk, ticket.priority, factor, tuple(o.pk for o in overrides))
        if key not in self._resolved:
            self._resolved[key] = {
                row.metric: resolve_target(
                    row, factor=factor,
                    overrides=[o for o in overrides
                               if _override_applies(o, ticket.priority, row.metric)],
                )
                for row in rows
            }
        return self._resolved[key]

"""Policies: which one applies to a ticket, and the exact targets it gets under it."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from helpdesk import config_cache
from helpdesk.models import SupportTier
from sla.calendar import BusinessCalendar
from sla.models import Override, Policy, Target, TierMultiplier
from sla.policies import match_policy, resolve_target, targets_for
from tests.factories import team
from tickets.models import Channel, Tag

from .conftest import MIN, START, H, customer_of

pytestmark = pytest.mark.django_db
US = timedelta(microseconds=1)


@pytest.fixture
def business_customer(db):
    return customer_of(SupportTier.BUSINESS)


def ticket_for(desk, customer, **kwargs):
    return desk.create(customer, **kwargs)


# --- matching ---------------------------------------------------------------------------

def test_the_seeded_policy_matches_every_ticket(desk, standard, business_customer):
    ticket = ticket_for(desk, business_customer)
    assert match_policy(ticket) == standard


def test_no_active_policy_matches_nothing(desk, standard, business_customer):
    Policy.objects.update(is_active=False)
    config_cache.forget()  # a bulk update sends no signal (the admin saves row by row)
    assert match_policy(ticket_for(desk, business_customer)) is None


def test_first_matching_policy_in_order_wins(desk, standard, customer_a, business_customer):
    vip = Policy.objects.create(name="Enterprise", order=10,
                                org_tiers=[SupportTier.ENTERPRISE])
    earlier = Policy.objects.create(name="Enterprise P1", order=5,
                                    org_tiers=[SupportTier.ENTERPRISE], priorities=[1])
    assert match_policy(ticket_for(desk, customer_a, priority=2)) == vip
    assert match_policy(ticket_for(desk, customer_a, priority=1)) == earlier
    assert match_policy(ticket_for(desk, business_customer, priority=1)) == standard


def test_inactive_policies_are_skipped(desk, standard, customer_a):
    Policy.objects.create(name="Old enterprise", order=1, is_active=False,
                          org_tiers=[SupportTier.ENTERPRISE])
    assert match_policy(ticket_for(desk, customer_a)) == standard


def test_every_condition_must_hold(desk, standard, customer_a, l1):
    strict = Policy.objects.create(
        name="Strict", order=1, org_tiers=[SupportTier.ENTERPRISE], priorities=[2],
        channels=[Channel.EMAIL],
    )
    strict.teams.add(l1)
    urgent = Tag.objects.create(name="urgent")
    strict.tags.add(urgent)
    ticket = ticket_for(desk, customer_a, priority=2, channel=Channel.EMAIL, tags=["urgent"])
    assert ticket.team_id == l1.pk
    assert match_policy(ticket) == strict
    for changed in (
        {"priority": 3}, {"channel": Channel.WEB}, {"tags": ["billing"]},
    ):
        other = ticket_for(desk, customer_a, **{"priority": 2, "channel": Channel.EMAIL,
                                                "tags": ["urgent"], **changed})
        assert match_policy(other) == standard, changed
    ticket.team = team("l2-technical")
    assert match_policy(ticket) == standard


def test_a_tier_condition_does_not_match_tickets_without_organization(desk, standard, agent):
    from helpdesk.roles import Role
    from tests.factories import make_user

    Policy.objects.create(name="Free", order=1, org_tiers=[SupportTier.FREE])
    loner = make_user(Role.CUSTOMER)
    assert match_policy(ticket_for(desk, loner)) == standard


def test_a_tag_condition_matches_any_of_its_tags(desk, standard, business_customer):
    policy = Policy.objects.create(name="Security", order=1)
    policy.tags.add(Tag.objects.create(name="security"), Tag.objects.create(name="gdpr"))
    assert match_policy(ticket_for(desk, business_customer, tags=["gdpr", "export"])) == policy


# --- targets: the matrix and tier multipliers -------------------------------------------

def test_targets_follow_the_seeded_matrix(desk, standard, business_customer):
    ticket = ticket_for(desk, business_customer, priority=2)
    targets = targets_for(ticket, standard, at=START)
    assert set(targets) == {"first_response", "next_response", "resolution", "periodic_update"}
    assert targets["first_response"].contractual == H
    assert targets["first_response"].internal == 45 * MIN
    assert targets["resolution"].contractual == 8 * H
    assert targets["periodic_update"].contractual == 2 * H
    assert targets["first_response"].calendar.name == "Business hours"
    assert targets["first_response"].business.is_open(START)


def test_p1_runs_on_the_24_7_calendar(desk, standard, business_customer):
    ticket = ticket_for(desk, business_customer, priority=1)
    target = targets_for(ticket, standard, at=START)["first_response"]
    assert target.contractual == 15 * MIN
    assert target.business == BusinessCalendar.always()


def test_metrics_without_a_target_are_absent(desk, standard, business_customer):
    ticket = ticket_for(desk, business_customer, priority=4)
    assert "periodic_update" not in targets_for(ticket, standard, at=START)


@pytest.mark.parametrize(("tier", "first_response"), [
    (SupportTier.ENTERPRISE, 30 * MIN),
    (SupportTier.BUSINESS, 60 * MIN),
    (SupportTier.PROFESSIONAL, 90 * MIN),
    (SupportTier.STARTER, 120 * MIN),
    (SupportTier.FREE, 240 * MIN),
])
def test_tier_multipliers_scale_contractual_and_internal(desk, standard, tier, first_response):
    ticket = ticket_for(desk, customer_of(tier), priority=2)
    target = targets_for(ticket, standard, at=START)["first_response"]
    assert target.contractual == first_response
    assert target.internal == first_response * 3 / 4


def test_tier_multipliers_are_editable(desk, standard):
    TierMultiplier.objects.filter(tier=SupportTier.FREE).update(factor=Decimal("3"))
    ticket = ticket_for(desk, customer_of(SupportTier.FREE), priority=2)
    assert targets_for(ticket, standard, at=START)["first_response"].contractual == 3 * H


def test_a_policy_can_ignore_tier_multipliers(desk, standard):
    standard.apply_tier_multipliers = False
    standard.save()
    ticket = ticket_for(desk, customer_of(SupportTier.FREE), priority=2)
    assert targets_for(ticket, standard, at=START)["first_response"].contractual == H


def test_customers_without_organization_get_the_plain_matrix(desk, standard):
    from helpdesk.roles import Role
    from tests.factories import make_user

    ticket = ticket_for(desk, make_user(Role.CUSTOMER), priority=2)
    assert ticket.organization is None
    assert targets_for(ticket, standard, at=START)["first_response"].contractual == H


# --- targets: overrides ---------------------------------------------------------------

def black_friday(**fields) -> Override:
    fields.setdefault("factor", Decimal("2"))
    return Override.objects.create(
        name="Black Friday", reason="Seasonal peak: twice the usual volume",
        starts_at=START, ends_at=START + 72 * H, **fields,
    )


def test_a_factor_override_applies_only_within_its_window(desk, standard, business_customer):
    black_friday()
    ticket = ticket_for(desk, business_customer, priority=2)

    def first(at):
        return targets_for(ticket, standard, at=at)["first_response"]

    assert first(START - US).contractual == H
    assert first(START).contractual == 2 * H
    assert first(START).internal == 90 * MIN
    assert first(START + 72 * H - US).contractual == 2 * H
    assert first(START + 72 * H).contractual == H  # the end is exclusive


def test_a_replacement_replaces_the_contractual_target_and_scales_internal(
        desk, standard, business_customer):
    black_friday(factor=None, replacement=3 * H, metrics=["first_response"])
    ticket = ticket_for(desk, business_customer, priority=2)
    targets = targets_for(ticket, standard, at=START)
    assert targets["first_response"].contractual == 3 * H
    assert targets["first_response"].internal == 3 * H * 3 / 4  # same 75 % ratio
    assert targets["resolution"].contractual == 8 * H  # other metrics untouched


def test_tier_multiplier_applies_on_top_of_an_override(desk, standard, customer_a):
    black_friday(factor=None, replacement=3 * H)
    ticket = ticket_for(desk, customer_a, priority=2)  # enterprise: 0.5x
    assert targets_for(ticket, standard, at=START)["first_response"].contractual == 90 * MIN


def test_overrides_filter_by_policy_and_priority(desk, standard, business_customer):
    other = Policy.objects.create(name="Other", order=500)
    black_friday(policy=other)
    black_friday(priorities=[3], factor=Decimal("1.5"))
    p2 = ticket_for(desk, business_customer, priority=2)
    p3 = ticket_for(desk, business_customer, priority=3)
    assert targets_for(p2, standard, at=START)["first_response"].contractual == H
    assert targets_for(p3, standard, at=START)["first_response"].contractual == 6 * H


def test_global_and_policy_overrides_combine(desk, standard, business_customer):
    black_friday()
    black_friday(policy=standard, factor=Decimal("1.25"))
    ticket = ticket_for(desk, business_customer, priority=2)
    assert targets_for(ticket, standard, at=START)["first_response"].contractual == 150 * MIN


# --- exactness --------------------------------------------------------------------------

def test_decimal_factors_give_exact_microseconds(standard):
    target = Target(policy=standard, priority=3, metric="first_response",
                    contractual=timedelta(hours=1, microseconds=1), internal=None)
    resolved = resolve_target(target, factor=Decimal("0.33"))
    # 3,600,000,001 µs x 0.33 = 1,188,000,000.33 µs -> rounded to the microsecond
    assert resolved.contractual == timedelta(microseconds=1_188_000_000)
    assert resolved.internal == resolved.contractual  # no internal goal: same as contract


def test_rounding_is_half_up_and_never_zero(standard):
    seven = Target(policy=standard, priority=3, metric="first_response",
                   contractual=7 * US, internal=5 * US)
    assert resolve_target(seven, factor=Decimal("0.5")).contractual == 4 * US
    assert resolve_target(seven, factor=Decimal("0.5")).internal == 3 * US
    assert resolve_target(seven, factor=Decimal("0.01")).contractual == US


def test_overrides_and_multipliers_are_rounded_once(standard):
    target = Target(policy=standard, priority=3, metric="first_response",
                    contractual=3 * US, internal=None)
    third = Override(name="x", reason="x", starts_at=START, ends_at=START,
                     factor=Decimal("0.5"))
    # 3 x 0.5 x 0.5 = 0.75 -> 1 µs; rounding after each step would give 2 x 0.5 = 1 too,
    # but 5 x 0.5 x 0.5 = 1.25 -> 1 µs where stepwise rounding gives 3 x 0.5 -> 2 µs.
    assert resolve_target(target, factor=Decimal("0.5"), overrides=[third]).contractual == US
    target.contractual = 5 * US
    assert resolve_target(target, factor=Decimal("0.5"), overrides=[third]).contractual == US


@pytest.mark.django_db
def test_editing_hours_or_holidays_refreshes_the_cached_calendar():
    from datetime import date, time

    from sla.models import BusinessHours, Calendar, Holiday

    cal = Calendar.objects.create(name="Edited", timezone="UTC")
    hours = BusinessHours.objects.create(calendar=cal, weekday=0, start=time(9), end=time(17))
    from datetime import UTC, datetime

    monday = datetime(2026, 11, 30, 10, tzinfo=UTC)
    assert Calendar.objects.get(pk=cal.pk).business_calendar().is_open(monday)
    Holiday.objects.create(calendar=cal, date=date(2026, 11, 30), name="Closed")
    assert not Calendar.objects.get(pk=cal.pk).business_calendar().is_open(monday)
    Holiday.objects.all().delete()
    hours.start = time(11)
    hours.save()
    assert not Calendar.objects.get(pk=cal.pk).business_calendar().is_open(monday)

"""Starting clocks in bulk gives every ticket exactly the clocks `reevaluate` gives it.

A varied set of open tickets without clocks (every priority and open status, every tier
and none, three policies matched by team, tag and default, a London calendar across the
spring DST change and the Easter holidays, an override window, past waits, first responses
given late, early or never, agent updates) gets its clocks once ticket by ticket through
`sla.services.reevaluate` and once through `sla.services.start_clocks_in_bulk`; the
clocks, their pauses and audit events and the tickets' SLA columns must match field by
field. The SLA views read exactly these rows.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from helpdesk.models import SupportTier, Team
from helpdesk.roles import Role
from sla import services
from sla.models import Clock, ClockEvent, ClockLevelFire, ClockPause, Override, Policy, Target
from tests.factories import make_org, make_user
from tickets.models import Channel, EventKind, Message, Tag, Ticket, TicketEvent
from tickets.state_machine import WAITING_STATUSES, Status

from .conftest import build_calendar, utc

pytestmark = pytest.mark.django_db

NOW = utc(2026, 4, 8, 15, 7)  # a Wednesday after Easter; London on summer time since 29 March
OPEN = [Status.NEW, Status.TRIAGED, Status.ASSIGNED, Status.IN_PROGRESS,
        Status.WAITING_ON_CUSTOMER, Status.WAITING_ON_THIRD_PARTY, Status.ESCALATED,
        Status.ENGINEERING]
TIERS = [SupportTier.ENTERPRISE, SupportTier.BUSINESS, SupportTier.PROFESSIONAL,
         SupportTier.STARTER, SupportTier.FREE, None]
H = timedelta(hours=1)
MIN = timedelta(minutes=1)


def _policies(standard: Policy) -> tuple[Team, Tag]:
    """Two more policies before the default one: billing (by team, on a London calendar
    with the Easter holidays, third-party waits pause) and VIP (by tag, no multipliers)."""
    london = build_calendar("London", "Europe/London",
                            holidays=[date(2026, 4, 3), date(2026, 4, 6)])
    billing_team = Team.objects.create(name="Billing bulk", slug="billing-bulk")
    vip = Tag.objects.create(name="vip-bulk")
    billing = Policy.objects.create(name="Billing", order=10, pause_on_third_party=True)
    billing.teams.add(billing_team)
    special = Policy.objects.create(name="VIP", order=20, apply_tier_multipliers=False,
                                    priorities=[1, 2, 3])
    special.tags.add(vip)
    for policy, calendar in ((billing, london), (special, None)):
        for row in Target.objects.filter(policy=standard):
            Target.objects.create(policy=policy, priority=row.priority, metric=row.metric,
                                  contractual=row.contractual * 2 // 3,
                                  internal=row.internal // 2, calendar=calendar)
    Override.objects.create(name="Launch week", reason="Volume", factor=Decimal("1.5"),
                            starts_at=NOW - 12 * 24 * H, ends_at=NOW - 6 * 24 * H,
                            priorities=[2, 3, 4], metrics=[])
    return billing_team, vip


def varied_tickets(standard: Policy) -> list[int]:
    """96 open tickets without clocks, as varied as the clocks' rules (see the module)."""
    team, vip = _policies(standard)
    agent = make_user(Role.AGENT)
    orgs = {tier: make_org(tier=tier) if tier else None for tier in TIERS}
    customers = {tier: make_user(Role.CUSTOMER, org=org) for tier, org in orgs.items()}
    ids = []
    for i in range(96):
        tier = TIERS[i % len(TIERS)]
        status = OPEN[i % len(OPEN)]
        # Spread over 25 days before NOW: weekends, the DST change, Easter, minutes ago.
        created = NOW - timedelta(minutes=37 + i * 379)
        responded = {0: created + 40 * MIN, 1: created + 26 * H, 2: None}[i % 3]
        if responded and responded > NOW:
            responded = None
        changed = created + (i % 4 + 1) * 3 * H if status in WAITING_STATUSES else created
        changed = min(changed, NOW - MIN)
        ticket = Ticket.objects.create(
            subject=f"Case {i}", description="d", requester=customers[tier],
            organization=orgs[tier], priority=1 + i % 5,
            channel=Channel.EMAIL if i % 2 else Channel.WEB,
            team=team if i % 4 == 1 else None, status=status,
            waiting_reason="Logs?" if status == Status.WAITING_ON_CUSTOMER else "",
            created_at=created, updated_at=changed, status_changed_at=changed,
            first_response_at=responded)
        if i % 5 == 2:
            ticket.tags.add(vip)
        events = []
        if i % 6 == 3 and created + 6 * H < NOW:  # waited once on the customer, came back
            events += [(created + 2 * H, Status.WAITING_ON_CUSTOMER, "Screenshot?"),
                       (created + 5 * H, Status.IN_PROGRESS, "")]
        if i % 7 == 4 and created + 9 * H < NOW:  # and once on a supplier
            events += [(created + 7 * H, Status.WAITING_ON_THIRD_PARTY, "Carrier"),
                       (created + 9 * H, Status.ASSIGNED, "")]
        if status in WAITING_STATUSES:
            events.append((changed, status, ticket.waiting_reason))
        for at, after, note in sorted(events):
            TicketEvent.objects.create(ticket=ticket, actor=agent, created_at=at,
                                       kind=EventKind.STATUS, field="status", after=after,
                                       note=note)
        replies = [responded] if responded else []
        if i % 4 == 0 and created + 30 * H < NOW:
            replies.append(created + 30 * H)  # a later update restarts the cadence
        for at in replies:
            Message.objects.create(ticket=ticket, author=agent, is_public=True, by_agent=True,
                                   body="On it.", created_at=at)
        ids.append(ticket.pk)
    return ids


def evaluated_at(ticket: Ticket) -> datetime:
    if ticket.status in WAITING_STATUSES:
        return min(max(ticket.status_changed_at, ticket.created_at), NOW)
    return NOW


CLOCK_FIELDS = [f.name for f in Clock._meta.concrete_fields if f.name not in ("id",
                                                                                 "updated_at")]


def snapshot(ids: list[int]) -> dict:
    """Everything the two paths write, keyed by what does not depend on row ids."""
    def key(clock_id: int) -> tuple:
        return keys[clock_id]

    clocks = {}
    keys = {}
    for clock in Clock.objects.filter(ticket_id__in=ids).order_by("pk"):
        keys[clock.pk] = (clock.ticket_id, clock.metric, clock.cycle)
        clocks[keys[clock.pk]] = {f: getattr(clock, f) for f in CLOCK_FIELDS}
    events = [(key(e.clock_id), e.kind, e.at, e.actor_id, e.reason, e.data)
              for e in ClockEvent.objects.filter(ticket_id__in=ids).order_by("ticket_id", "pk")]
    pauses = [(key(p.clock_id), p.actor_id, p.reason, p.started_at, p.ended_at,
               p.business_time)
              for p in ClockPause.objects.filter(ticket_id__in=ids).order_by("ticket_id", "pk")]
    fires = sorted((key(f.clock_id), f.percent, f.scheduled_at, f.fired_at)
                   for f in ClockLevelFire.objects.filter(clock__ticket_id__in=ids))
    tickets = list(Ticket.objects.filter(pk__in=ids).order_by("pk").values_list(
        "pk", "sla_due_at", "sla_level"))
    return {"clocks": clocks, "events": events, "pauses": pauses, "fires": fires,
            "tickets": tickets}


def forget(ids: list[int]) -> None:
    Clock.objects.filter(ticket_id__in=ids).delete()
    Ticket.objects.filter(pk__in=ids).update(sla_due_at=None, sla_level="")


def one_by_one(ids: list[int]) -> None:
    for ticket in Ticket.objects.filter(pk__in=ids).select_related("organization"):
        services.reevaluate(ticket, at=evaluated_at(ticket), reason="imported")


def both_ways(ids: list[int], bulk: Callable[[list[int]], object],
              reference: Callable[[list[int]], object]) -> tuple[dict, dict]:
    reference(ids)
    expected = snapshot(ids)
    forget(ids)
    bulk(ids)
    return expected, snapshot(ids)


def assert_same(expected: dict, got: dict) -> None:
    assert got["clocks"].keys() == expected["clocks"].keys()
    for key, fields in expected["clocks"].items():
        assert got["clocks"][key] == fields, key
    assert got["pauses"] == expected["pauses"]
    assert got["events"] == expected["events"]
    assert got["fires"] == expected["fires"]
    assert got["tickets"] == expected["tickets"]


def test_bulk_start_writes_the_clocks_reevaluate_writes(standard):
    ids = varied_tickets(standard)
    expected, got = both_ways(
        ids, lambda ids: services.start_clocks_in_bulk(ids, at=evaluated_at, reason="imported",
                                                       batch_size=37),
        one_by_one)
    clocks = expected["clocks"].values()
    # The set is varied enough to mean something: every state, pauses, breaches, policies.
    assert {c["state"] for c in clocks} >= {"running", "paused", "breached", "met"}
    assert {c["policy"] for c in clocks} == set(Policy.objects.all())
    assert {c["metric"] for c in clocks} == {"first_response", "resolution", "periodic_update"}
    assert len(expected["pauses"]) > 20
    assert any(c["internal_breached_at"] and not c["breached_at"] for c in clocks)
    assert sum(1 for _, due, _ in expected["tickets"] if due) > 30
    assert_same(expected, got)


def test_bulk_start_leaves_tickets_with_clocks_to_reevaluate(standard):
    ids = varied_tickets(standard)[:12]
    one_by_one(ids[:5])  # these already have clocks: re-evaluated, not started twice
    before = Clock.objects.filter(ticket_id__in=ids).count()
    assert services.start_clocks_in_bulk(ids, at=evaluated_at, reason="imported") == 12
    assert Clock.objects.filter(ticket_id__in=ids[:5]).count() == before
    assert set(Clock.objects.filter(ticket_id__in=ids).values_list(
        "ticket_id", flat=True)) == set(ids)

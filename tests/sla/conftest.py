"""SLA test kit: a frozen clock, calendars, and a desk whose actions commit like production.

Domain events are dispatched with transaction.on_commit, which never fires inside the
test transaction: every Desk action runs inside django_capture_on_commit_callbacks
(execute=True), so the SLA handlers run right after it, as they do after a commit.
Time only moves when a test says so (time_machine, tick=False).
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from helpdesk import config_cache
from helpdesk.roles import Role
from sla import models as sla_models
from sla.models import (
    BusinessHours,
    Calendar,
    Clock,
    ClockEvent,
    Holiday,
    Policy,
    Target,
)
from tests.factories import make_org, make_user
from tickets import events, services
from tickets.models import Ticket

H = timedelta(hours=1)
MIN = timedelta(minutes=1)
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(zone: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone))


@pytest.fixture(autouse=True)
def _fresh_calendar_cache():
    """Built calendars are cached by (pk, updated_at); rolled-back rows reuse both."""
    sla_models._calendar_cache.clear()
    yield
    sla_models._calendar_cache.clear()


class Desk:
    """Acts on tickets through tickets.services at chosen instants, events delivered."""

    def __init__(self, traveller: Any, capture: Any) -> None:
        self.traveller = traveller
        self.capture = capture

    def _at(self, when: datetime | None) -> None:
        if when is not None:
            self.traveller.move_to(when)

    def create(self, requester, *, at: datetime | None = None, **kwargs) -> Ticket:
        self._at(at)
        kwargs.setdefault("subject", "Export fails")
        kwargs.setdefault("description", "The CSV export stops at 10,000 rows.")
        with self.capture(execute=True):
            ticket = services.create_ticket(requester=requester, **kwargs)
        return Ticket.objects.get(pk=ticket.pk)

    def reply(self, ticket: Ticket, author, *, at: datetime | None = None,
              public: bool = True, body: str = "Thanks, looking into it.", **kwargs) -> None:
        self._at(at)
        with self.capture(execute=True):
            services.add_reply(Ticket.objects.get(pk=ticket.pk), author=author, body=body,
                               public=public, **kwargs)

    def note(self, ticket: Ticket, agent, *, at: datetime | None = None) -> None:
        self.reply(ticket, agent, at=at, public=False, body="Internal: checking logs.")

    def move(self, ticket: Ticket, to: str, *, actor, at: datetime | None = None,
             reason: str = "", **kwargs) -> None:
        self._at(at)
        with self.capture(execute=True):
            services.transition(Ticket.objects.get(pk=ticket.pk), to, actor=actor,
                                reason=reason, **kwargs)

    def update(self, ticket: Ticket, *, actor, at: datetime | None = None, **changes) -> None:
        self._at(at)
        with self.capture(execute=True):
            services.update_ticket(Ticket.objects.get(pk=ticket.pk), actor=actor,
                                   changes=changes)

    def merge(self, duplicate: Ticket, into: Ticket, *, actor,
              at: datetime | None = None) -> None:
        self._at(at)
        with self.capture(execute=True):
            services.merge(Ticket.objects.get(pk=duplicate.pk),
                           into=Ticket.objects.get(pk=into.pk), actor=actor)

    def dispatch(self, event: events.TicketEvent) -> None:
        events.dispatch(event)

    def run(self, fn, *args, when: datetime | None = None, **kwargs):
        """Run any callable at `when` with its on-commit callbacks delivered."""
        self._at(when)
        with self.capture(execute=True):
            return fn(*args, **kwargs)

    # -- reading -----------------------------------------------------------------------

    @staticmethod
    def clock(ticket: Ticket, metric: str, cycle: int | None = None) -> Clock:
        clocks = Clock.objects.filter(ticket_id=ticket.pk, metric=metric)
        if cycle is not None:
            return clocks.get(cycle=cycle)
        return clocks.order_by("-cycle").first()

    @staticmethod
    def clocks(ticket: Ticket) -> list[Clock]:
        return list(Clock.objects.filter(ticket_id=ticket.pk).order_by("metric", "cycle"))

    @staticmethod
    def events(ticket: Ticket, *, metric: str | None = None) -> list[tuple[str, str]]:
        qs = ClockEvent.objects.filter(ticket_id=ticket.pk).order_by("at", "pk")
        if metric:
            qs = qs.filter(clock__metric=metric)
        return [(e.clock.metric, e.kind) for e in qs.select_related("clock")]

    @staticmethod
    def fresh(ticket: Ticket) -> Ticket:
        return Ticket.objects.get(pk=ticket.pk)


@pytest.fixture
def desk(django_capture_on_commit_callbacks):
    with time_machine.travel(START, tick=False) as traveller:
        yield Desk(traveller, django_capture_on_commit_callbacks)


@pytest.fixture
def standard(db) -> Policy:
    """The seeded default policy: P1 on 24/7, P2-P5 on Mon-Fri 9-17 UTC."""
    return Policy.objects.get(name="Standard support")


def build_calendar(name: str, zone: str, *, hours: Iterable[tuple[time, time]] = (
        (time(9), time(17)),), weekdays: Iterable[int] = range(5),
        holidays: Iterable[date] = ()) -> Calendar:
    calendar = Calendar.objects.create(name=name, timezone=zone)
    BusinessHours.objects.bulk_create([
        BusinessHours(calendar=calendar, weekday=d, start=s, end=e)
        for d in weekdays for s, e in hours
    ])
    Holiday.objects.bulk_create([Holiday(calendar=calendar, date=d) for d in holidays])
    return calendar


def use_calendar(policy: Policy, calendar: Calendar | None, *,
                 priorities: Iterable[int] = (1, 2, 3, 4, 5)) -> None:
    """Run the policy's targets for these priorities on `calendar` (None = 24/7)."""
    Target.objects.filter(policy=policy, priority__in=list(priorities)).update(calendar=calendar)
    config_cache.forget()  # a bulk update sends no signal (the admin saves row by row)


@pytest.fixture
def london(standard) -> Calendar:
    """Mon-Fri 09:00-17:00 Europe/London, used by the standard policy for P2-P5."""
    calendar = build_calendar("London office", "Europe/London")
    use_calendar(standard, calendar, priorities=(2, 3, 4, 5))
    return calendar


@pytest.fixture
def agent2(l1):
    return make_user(Role.AGENT, teams=(l1,), username="bert")


def customer_of(tier: str, name: str | None = None):
    org = make_org(name, tier=tier)
    return make_user(Role.CUSTOMER, org=org)

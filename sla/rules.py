"""What sla adds to triggers and automations: SLA state and business-hours conditions,
and business hours for automations' time conditions (`tickets.rules.registry`)."""
from __future__ import annotations

from datetime import datetime, timedelta

from helpdesk import config_cache
from tickets.models import Ticket
from tickets.rules import registry, runner
from tickets.rules.registry import BOOLEAN, EQUALITY, Condition, Context

from .calendar import BusinessCalendar
from .models import Calendar, Clock, ClockState
from .policies import active_policies, business_calendar_of, match_policy


def _calendar_of(ticket: Ticket) -> BusinessCalendar:
    policy = match_policy(ticket)
    return business_calendar_of(policy.calendar if policy is not None else None)


def _breached(ticket: Ticket, context: Context) -> bool:
    key = f"sla.breached.{ticket.pk}"
    if key not in context.cache:
        context.cache[key] = Clock.objects.filter(
            ticket_id=ticket.pk, state=ClockState.BREACHED).exists()
    return context.cache[key]


def _in_business_hours(ticket: Ticket, context: Context) -> bool:
    return _calendar_of(ticket).is_open(context.now)


def _named_calendar(name: str) -> BusinessCalendar:
    """The calendar named `name`, or the first active policy's (24/7 when none)."""
    if name:
        row = config_cache.get(f"sla.rules.calendar.{name}",
                               lambda: Calendar.objects.filter(name=name).first())
        if row is None:
            raise ValueError(f"no SLA calendar named {name!r}")
        return row.business_calendar()
    policies = active_policies()
    return business_calendar_of(policies[0].calendar if policies else None)


def business_cutoff(calendar_name: str, hours: timedelta, now: datetime) -> datetime:
    """The latest moment with `hours` of business time between it and `now` (bisection
    on `elapsed`, to the second)."""
    calendar = _named_calendar(calendar_name)
    if hours <= timedelta(0):
        return now
    step = max(hours, timedelta(days=1))
    lo = now - step
    while calendar.elapsed(lo, now) < hours:
        step *= 2
        if step > timedelta(days=3660):
            raise ValueError("the calendar has no business hours")
        lo = now - step
    hi = now
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if calendar.elapsed(mid, now) >= hours:
            lo = mid
        else:
            hi = mid
    return lo.replace(microsecond=0)


def register() -> None:
    registry.register_condition(Condition(
        "sla_level", "SLA level reached (yellow, orange, red; empty: none)",
        lambda t, c: t.sla_level, EQUALITY))
    registry.register_condition(Condition(
        "sla_breached", "An SLA target is breached", _breached, BOOLEAN))
    registry.register_condition(Condition(
        "in_business_hours", "Now is within the ticket's SLA business hours",
        _in_business_hours, BOOLEAN))
    runner.register_business_cutoff(business_cutoff)

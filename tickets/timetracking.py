"""Time tracking: minutes logged with a reply, or measured by a running timer.

Handle time of a ticket is the sum of its entries' minutes (running timers count once
they stop). Each agent has at most one running timer (a partial unique constraint);
starting a timer while another one runs is refused with a clear error naming the
ticket it runs on, so time is never moved between tickets behind the agent's back.
Stopping rounds up to whole minutes, at least 1.
"""
from __future__ import annotations

import datetime as dt
import math

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.models import User

from .models import Message, Ticket, TimeEntry

MAX_MINUTES = 600


def _check_agent(agent: User) -> None:
    if not getattr(agent, "is_agent", False):
        raise PermissionDenied(_("Only agents track time."))


def log_time(ticket: Ticket, *, agent: User, minutes: int, message: Message | None = None,
             note: str = "") -> TimeEntry:
    """Record `minutes` of work on the ticket, ending now (optionally with a reply)."""
    _check_agent(agent)
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not (
            1 <= minutes <= MAX_MINUTES):
        raise ValidationError({"time_minutes": _("Give between 1 and %(max)s minutes.")
                                               % {"max": MAX_MINUTES}})
    now = timezone.now()
    return TimeEntry.objects.create(
        ticket=ticket, agent=agent, message=message, minutes=minutes,
        started_at=now - dt.timedelta(minutes=minutes), ended_at=now, note=note[:200],
    )


def running_timer(agent: User) -> TimeEntry | None:
    """The agent's running timer (on any ticket), if any."""
    return (TimeEntry.objects.filter(agent=agent, ended_at__isnull=True)
            .select_related("ticket").first())


def start_timer(ticket: Ticket, *, agent: User) -> TimeEntry:
    """Start the agent's timer on the ticket; refused while another timer runs."""
    _check_agent(agent)
    current = running_timer(agent)
    if current is not None:
        if current.ticket_id == ticket.pk:
            raise ValidationError(_("Your timer is already running on this ticket."))
        raise ValidationError(
            _("Your timer is running on ticket #%(ticket_id)s; stop it first.")
            % {"ticket_id": current.ticket_id})
    try:
        with transaction.atomic():
            return TimeEntry.objects.create(ticket=ticket, agent=agent,
                                            started_at=timezone.now())
    except IntegrityError as exc:  # a concurrent start won the race
        raise ValidationError(_("Your timer is already running; stop it first.")) from exc


def elapsed_minutes(started_at: dt.datetime, ended_at: dt.datetime) -> int:
    """Whole minutes, rounded up, at least 1."""
    seconds = max((ended_at - started_at).total_seconds(), 0)
    return max(1, math.ceil(seconds / 60))


def stop_timer(ticket: Ticket, *, agent: User) -> TimeEntry:
    """Stop the agent's running timer on this ticket and record its minutes."""
    _check_agent(agent)
    with transaction.atomic():
        entry = (TimeEntry.objects.select_for_update()
                 .filter(agent=agent, ticket=ticket, ended_at__isnull=True).first())
        if entry is None:
            raise ValidationError(_("Your timer is not running on this ticket."))
        entry.ended_at = timezone.now()
        entry.minutes = elapsed_minutes(entry.started_at, entry.ended_at)
        entry.save(update_fields=["ended_at", "minutes"])
    return entry


def handle_time(ticket: Ticket) -> int:
    """Minutes tracked on the ticket by everyone (stopped timers and logged time)."""
    return TimeEntry.objects.filter(ticket=ticket, minutes__isnull=False).aggregate(
        total=Sum("minutes"))["total"] or 0


def handle_time_by_ticket(ticket_ids) -> dict[int, int]:
    """Handle time of many tickets in one query: {ticket id: minutes}."""
    rows = (TimeEntry.objects.filter(ticket_id__in=list(ticket_ids), minutes__isnull=False)
            .values("ticket_id").annotate(total=Sum("minutes")).order_by())
    return {r["ticket_id"]: r["total"] for r in rows}

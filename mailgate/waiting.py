"""Tickets waiting on their customer: reminders after configured business days, then the
automatic resolution. One `WaitingTicket` row per wait; the beat scan reads its indexed
`next_due_at` and locks the row, so a second worker or a rerun sends nothing twice."""
from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tickets import services as ticket_services
from tickets.models import Ticket
from tickets.state_machine import Status, TransitionError

from . import notices
from .models import WaitingTicket

logger = logging.getLogger(__name__)


def reminder_days() -> list[int]:
    """Business days after the wait began when a reminder goes (e.g. [2, 4])."""
    return sorted(int(d) for d in getattr(settings, "HELPDESK_CUSTOMER_REMINDER_DAYS", [2, 4]))


def auto_resolve_days() -> int:
    """Business days of waiting after which the ticket is resolved; 0 turns it off."""
    return int(getattr(settings, "HELPDESK_CUSTOMER_AUTO_RESOLVE_DAYS", 7))


def add_business_days(start: dt.datetime, days: int) -> dt.datetime:
    """`days` weekdays after `start` (Saturdays and Sundays do not count)."""
    current = start
    left = days
    while left > 0:
        current += dt.timedelta(days=1)
        if current.weekday() < 5:
            left -= 1
    return current


def due_after(since: dt.datetime, step: int) -> dt.datetime | None:
    """When the step after `step` reminders is due: the next reminder, else the
    automatic resolution, else never."""
    days = reminder_days()
    if step < len(days):
        return add_business_days(since, days[step])
    auto = auto_resolve_days()
    return add_business_days(since, auto) if auto > 0 else None


def started_waiting(ticket_id: int, at: dt.datetime) -> None:
    """A new wait: the reminder steps start over from `at`."""
    WaitingTicket.objects.update_or_create(ticket_id=ticket_id, defaults={
        "waiting_since": at, "step": 0, "next_due_at": due_after(at, 0),
        "auto_resolved_at": None})


def stopped_waiting(ticket_id: int) -> WaitingTicket | None:
    """The wait ended (answer, resolution...): forget it; returns the row it had."""
    row = WaitingTicket.objects.filter(ticket_id=ticket_id).first()
    if row is not None:
        row.delete()
    return row


def run_step(row_id: int, *, now: dt.datetime) -> str:
    """The due step of one wait: "reminder", "resolved", "gone" or "not due"."""
    with transaction.atomic():
        row = (WaitingTicket.objects.select_for_update()
               .filter(pk=row_id, next_due_at__lte=now).first())
        if row is None:
            return "not due"
        ticket = Ticket.objects.filter(pk=row.ticket_id).first()
        if ticket is None or ticket.status != Status.WAITING_ON_CUSTOMER:
            row.delete()
            return "gone"
        if row.step < len(reminder_days()):
            row.step += 1
            notices.queue_ticket_notice(
                "customer.reminder", ticket.pk, at=row.waiting_since, actor_id=None,
                context={"reminder_number": row.step, "step": row.step,
                         "auto_resolve_days": auto_resolve_days()}, suffix=f":{row.step}")
            row.next_due_at = due_after(row.waiting_since, row.step)
            row.save(update_fields=["step", "next_due_at"])
            return "reminder"
        row.auto_resolved_at, row.next_due_at = now, None
        row.save(update_fields=["auto_resolved_at", "next_due_at"])
        try:
            ticket_services.transition(
                ticket, Status.RESOLVED.value, actor=None,
                reason=f"No answer from the customer for {auto_resolve_days()} business days.")
        except TransitionError:
            logger.exception("Ticket %s could not be resolved automatically", ticket.pk)
            return "gone"
        return "resolved"


def scan(*, now: dt.datetime | None = None, limit: int = 500) -> dict[str, int]:
    """Beat job body: every wait whose next step is due, oldest first."""
    now = now or timezone.now()
    counts: dict[str, int] = {}
    ids = list(WaitingTicket.objects.filter(next_due_at__lte=now)
               .order_by("next_due_at").values_list("pk", flat=True)[:limit])
    for pk in ids:
        result = run_step(pk, now=now)
        counts[result] = counts.get(result, 0) + 1
    return counts

"""Coaching sessions and flags (including the SLA-breach sweep)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import formats
from django.utils.translation import gettext as _

from helpdesk.models import User
from helpdesk.notifications import in_language_of, notify
from tickets.models import OPEN_STATUS_VALUES, Ticket

from .. import permissions
from ..models import (
    CoachingSession,
    QAFlag,
    Review,
)
from ._common import SLA_BREACH_LEVELS, _now

# --- coaching and flags ---------------------------------------------------------------------

@transaction.atomic
def record_coaching(*, agent: User, coach: User, held_on: date, strengths: str,
                    development_focus: str, goals: str = "", follow_up_on: date | None = None,
                    notes: str = "", reviews: Iterable[Review] = ()) -> CoachingSession:
    if not permissions.is_qa_lead(coach):
        raise PermissionDenied(_("Only team leads record coaching sessions."))
    if coach.pk == agent.pk:
        raise ValidationError(_("Coaching is recorded for someone else."))
    if not strengths.strip() or not development_focus.strip():
        raise ValidationError(_("Record the strengths and one development focus."))
    if follow_up_on and follow_up_on < held_on:
        raise ValidationError(_("The follow-up comes after the session."))
    reviews = list(reviews)
    if any(r.agent_id != agent.pk for r in reviews):
        raise ValidationError(_("Link only reviews of this agent."))
    item = CoachingSession.objects.create(
        agent=agent, coach=coach, held_on=held_on, strengths=strengths.strip(),
        development_focus=development_focus.strip(), goals=goals.strip(),
        follow_up_on=follow_up_on, notes=notes.strip(), created_at=_now())
    item.reviews.set(reviews)
    def tell() -> None:
        with in_language_of(agent):
            title = _("Coaching notes from %(coach)s (%(date)s)") % {
                "coach": coach, "date": formats.date_format(held_on, "SHORT_DATE_FORMAT")}
        notify(agent, title=title, source="qa.coaching",
               url=reverse("qa:coaching_detail", args=[item.pk]),
               dedupe_key=f"qa.coaching.{item.pk}")

    transaction.on_commit(tell)
    return item


def flag_ticket(ticket: Ticket, *, actor: User, note: str = "") -> QAFlag:
    """A lead asks for this ticket to be in the next QA sample (idempotent)."""
    if not permissions.is_qa_lead(actor):
        raise PermissionDenied(_("Only team leads flag tickets for QA."))
    flag, _created = QAFlag.objects.get_or_create(
        ticket=ticket, reason=QAFlag.Reason.LEAD,
        defaults={"flagged_by": actor, "note": note.strip()[:300], "created_at": _now()})
    return flag


def sweep_sla_breaches(*, limit: int = 1000) -> int:
    """Mark open tickets whose SLA is breached, so the mark outlives the clock.

    Reads the ticket's denormalised `sla_level` (written by the sla app); the filter on
    open status and `sla_due_at <= now` uses the open-queue index, so the cost grows with
    the overdue tickets only.
    """
    now = _now()
    ids = list(Ticket.objects.filter(status__in=OPEN_STATUS_VALUES, sla_due_at__lte=now,
                                     sla_level__in=SLA_BREACH_LEVELS)
               .exclude(qa_flags__reason=QAFlag.Reason.SLA_BREACHED)
               .values_list("pk", flat=True)[:limit])
    QAFlag.objects.bulk_create(
        [QAFlag(ticket_id=pk, reason=QAFlag.Reason.SLA_BREACHED, created_at=now) for pk in ids],
        ignore_conflicts=True)
    return len(ids)

"""Calibration sessions: reviewers score the same tickets and agree a score."""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from helpdesk.models import User
from helpdesk.notifications import in_language_of, notify
from tickets.models import Ticket

from .. import permissions, sampling
from ..models import (
    CalibrationDimensionScore,
    CalibrationItem,
    CalibrationScore,
    CalibrationSession,
    Scorecard,
)
from ._common import DEFAULT_CALIBRATION_TICKETS, DONE_STATUSES, _now
from .scorecards import ScoreInput, current_scorecard, evaluate

# --- calibration ------------------------------------------------------------------------------

def pick_calibration_tickets(*, n: int = DEFAULT_CALIBRATION_TICKETS, days: int = 30,
                             seed: str | int | None = None) -> list[int]:
    """A seeded draw of recently resolved tickets, across categories and priorities."""
    since = _now() - timedelta(days=days)
    rows = (Ticket.objects.filter(status__in=DONE_STATUSES, resolved_at__gte=since,
                                  assignee__isnull=False, merged_into__isnull=True)
            .order_by("-resolved_at").values_list("pk", "category_id", "priority")[:2000])
    candidates = [sampling.Candidate(pk, cat, prio) for pk, cat, prio in rows]
    seed = seed if seed is not None else random.SystemRandom().randrange(1 << 30)
    return sampling.stratified_sample(candidates, n, seed=seed)


@transaction.atomic
def start_calibration(*, title: str, facilitator: User, participants: Iterable[User],
                      tickets: Iterable[Ticket] | None = None,
                      scorecard: Scorecard | None = None) -> CalibrationSession:
    """A session on the given tickets (default: 3 recently resolved ones)."""
    if not permissions.can_calibrate(facilitator):
        raise PermissionDenied(_("You cannot run calibration sessions."))
    people = list({p.pk: p for p in participants}.values())
    if len(people) < 2:
        raise ValidationError(_("Calibration needs at least two reviewers."))
    if any(not permissions.can_review(p) for p in people):
        raise ValidationError(_("Every participant must be a QA reviewer."))
    ticket_ids = ([t.pk for t in tickets] if tickets is not None
                  else pick_calibration_tickets())
    ticket_ids = list(dict.fromkeys(ticket_ids))
    if not ticket_ids:
        raise ValidationError(_("Pick at least one ticket."))
    session = CalibrationSession.objects.create(
        title=title.strip() or _("Calibration"), scorecard=scorecard or current_scorecard(),
        facilitator=facilitator, created_at=_now())
    session.participants.set(people)
    CalibrationItem.objects.bulk_create([
        CalibrationItem(session=session, ticket_id=pk, order=i)
        for i, pk in enumerate(ticket_ids)])
    url = session.get_absolute_url()

    def tell() -> None:
        for person in people:
            if person.pk != facilitator.pk:
                with in_language_of(person):
                    title = ngettext("Calibration: score %(num)d ticket blind",
                                     "Calibration: score %(num)d tickets blind",
                                     len(ticket_ids)) % {"num": len(ticket_ids)}
                notify(person, title=title, source="qa.calibration", url=url,
                       dedupe_key=f"qa.calibration.{session.pk}.{person.pk}")

    transaction.on_commit(tell)
    return session


@transaction.atomic
def submit_calibration_score(item: CalibrationItem, *, reviewer: User,
                             data: ScoreInput) -> CalibrationScore:
    """A participant's blind score; final once submitted (the comparison depends on it)."""
    session = CalibrationSession.objects.select_for_update().get(pk=item.session_id)
    if session.status != CalibrationSession.Status.OPEN:
        raise ValidationError(_("This session is closed."))
    if not session.participants.filter(pk=reviewer.pk).exists():
        raise PermissionDenied(_("You are not a participant of this session."))
    if CalibrationScore.objects.filter(item=item, reviewer=reviewer,
                                       submitted_at__isnull=False).exists():
        raise ValidationError(_("You have already scored this ticket."))
    scored = evaluate(session.scorecard, data)
    if not scored.result.complete:
        raise ValidationError(_("Score every dimension (or mark it not applicable)."))
    score, _created = CalibrationScore.objects.update_or_create(
        item=item, reviewer=reviewer,
        defaults={"score": scored.result.score, "auto_failed": scored.result.auto_failed,
                  "comment": data.summary.strip(), "submitted_at": _now()})
    score.auto_fail_items.set(data.auto_fail)
    CalibrationDimensionScore.objects.filter(score=score).delete()
    CalibrationDimensionScore.objects.bulk_create([
        CalibrationDimensionScore(score=score, dimension=dim, level=scored.levels[dim.pk],
                                  not_applicable=dim.pk in data.not_applicable)
        for dim in scored.dimensions])
    return score


@transaction.atomic
def record_agreed_score(item: CalibrationItem, *, actor: User, data: ScoreInput,
                        notes: str = "") -> CalibrationItem:
    """The facilitator records the score the group agreed on (computed from levels)."""
    item = CalibrationItem.objects.select_for_update().select_related("session__scorecard").get(
        pk=item.pk)
    session = item.session
    if session.facilitator_id != actor.pk:
        raise PermissionDenied(_("Only the facilitator records the agreed score."))
    if session.status != CalibrationSession.Status.OPEN:
        raise ValidationError(_("This session is closed."))
    if not item.scores.filter(submitted_at__isnull=False).exists():
        raise ValidationError(_("Wait for the reviewers' scores first."))
    scored = evaluate(session.scorecard, data)
    if not scored.result.complete:
        raise ValidationError(_("Score every dimension (or mark it not applicable)."))
    item.agreed_score = scored.result.score
    item.agreed_auto_failed = scored.result.auto_failed
    item.agreed_levels = {
        str(dim_id): (level.points if level else None)
        for dim_id, level in scored.levels.items()}
    item.agreed_notes = notes.strip()
    item.agreed_at = _now()
    item.save()
    return item


@transaction.atomic
def close_calibration(session: CalibrationSession, *, actor: User,
                      notes: str = "") -> CalibrationSession:
    session = CalibrationSession.objects.select_for_update().get(pk=session.pk)
    if session.facilitator_id != actor.pk:
        raise PermissionDenied(_("Only the facilitator closes the session."))
    if session.status == CalibrationSession.Status.CLOSED:
        return session
    if session.items.filter(agreed_score__isnull=True).exists():
        raise ValidationError(_("Record the agreed score of every ticket first."))
    session.status = CalibrationSession.Status.CLOSED
    session.closed_at = _now()
    if notes.strip():
        session.notes = notes.strip()
    session.save()
    return session

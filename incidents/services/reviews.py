"""The post-incident review and its action items."""
from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.models import User
from helpdesk.notifications import in_language_of, notify

from .. import selectors
from ..models import (
    ActionItem,
    EntryKind,
    Incident,
    Review,
    RoleKind,
)
from ..permissions import can_declare
from ._base import REVIEW_REMINDER_EVERY, _check, _entry, _fire, _lock


def review_draft(incident: Incident) -> dict[str, str]:
    """The review's pre-filled parts: the war-room timeline and the impact figures."""
    return {"timeline": selectors.timeline_text(incident),
            "impact": selectors.review_figures(incident).as_text()}


def start_review(incident: Incident, *, actor: User) -> Review:
    """Create the review pre-filled from the war room (idempotent)."""
    _check(can_declare(actor), _("You cannot write reviews."))
    existing = Review.objects.filter(incident=incident).first()
    if existing:
        return existing
    now = timezone.now()
    review, _created = Review.objects.get_or_create(incident=incident, defaults={
        **review_draft(incident), "author": actor, "created_at": now, "updated_at": now,
    })
    return review


REVIEW_FIELDS = ("summary", "timeline", "impact", "root_cause", "went_well", "to_improve")


def save_review(review: Review, *, actor: User, data: dict[str, str],
                complete: bool = False) -> Review:
    _check(can_declare(actor), _("You cannot write reviews."))
    for name in REVIEW_FIELDS:
        if name in data:
            setattr(review, name, (data[name] or "").strip())
    if complete:
        missing = [n for n in ("summary", "root_cause") if not getattr(review, n)]
        if missing:
            raise ValidationError(_("A complete review needs a summary and a root cause."))
    now = timezone.now()
    with transaction.atomic():
        review.updated_at = now
        if complete and review.completed_at is None:
            review.completed_at = now
            Incident.objects.filter(pk=review.incident_id).update(next_review_reminder_at=None)
            _entry(review.incident, EntryKind.NOTE, "Post-incident review completed.",
                   actor=actor, at=now)
        review.save()
    return review


def add_action(review: Review, *, title: str, actor: User, owner: User | None = None,
               due_date=None) -> ActionItem:
    _check(can_declare(actor), _("You cannot add action items."))
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": _("Describe the action.")})
    if owner is not None and not owner.is_agent:
        raise ValidationError({"owner": _("Action items are owned by staff.")})
    return ActionItem.objects.create(review=review, title=title[:255], owner=owner,
                                     due_date=due_date, created_at=timezone.now())


def set_action_state(action: ActionItem, *, state: str, actor: User) -> ActionItem:
    _check(can_declare(actor), _("You cannot change action items."))
    if state not in ActionItem.State.values:
        raise ValidationError({"state": _("Unknown state.")})
    action.state = state
    action.completed_at = timezone.now() if state == ActionItem.State.DONE else None
    action.save(update_fields=["state", "completed_at"])
    return action


def fire_review_reminder(incident_id: int, *, now: datetime | None = None) -> bool:
    """Remind the commander that the SEV1/SEV2 review is missing; once per day."""
    now = now or timezone.now()
    with transaction.atomic():
        incident = _lock(incident_id)
        due = incident.next_review_reminder_at
        if due is None or due > now:
            return False
        done = Review.objects.filter(incident=incident, completed_at__isnull=False).exists()
        if done or not incident.severity.review_required:
            incident.next_review_reminder_at = None
            incident.save(update_fields=["next_review_reminder_at"])
            return False
        nxt = due + REVIEW_REMINDER_EVERY
        while nxt <= now:
            nxt += REVIEW_REMINDER_EVERY
        incident.next_review_reminder_at = nxt
        incident.save(update_fields=["next_review_reminder_at"])
        key = f"review:{timezone.localdate(due).isoformat()}"
        if not _fire(incident, key, now):
            return False
        row = incident.roles.filter(role=RoleKind.COMMANDER).select_related("user").first()
        person = row.user if row else incident.declared_by
        _entry(incident, EntryKind.REMINDER, "Post-incident review not written yet; "
               f"reminded {person.display_name if person else 'nobody'}.", at=now)
        if person:
            with in_language_of(person):
                notify(person, title=_("Write the review of %(incident)s")
                       % {"incident": incident.reference},
                       source="incidents.review",
                       url=reverse("incidents:review", args=[incident.pk]),
                       dedupe_key=f"incident:{incident.pk}:{key}")
    return True

"""Reviews and their lifecycle: create, assign, draft, submit, acknowledge, dispute."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import formats
from django.utils.translation import gettext as _

from helpdesk.models import Membership, User
from helpdesk.notifications import in_language_of, notify
from helpdesk.roles import Role
from tickets.models import Ticket

from .. import permissions
from ..models import (
    PENDING_STATUSES,
    Dispute,
    Review,
    ReviewEvent,
    ReviewStatus,
    Scorecard,
)
from ._common import SOURCE, _now
from .scorecards import (
    ScoreInput,
    _event,
    _review_url,
    _snapshot,
    _write_scores,
    current_scorecard,
    evaluate,
)

# --- reviews --------------------------------------------------------------------------------

def _check_reviewer(reviewer: User | None, agent: User | int) -> None:
    agent_id = agent if isinstance(agent, int) else agent.pk
    if reviewer is None:
        return
    if reviewer.pk == agent_id:
        raise ValidationError(_("Reviewers cannot review their own tickets."))
    if not permissions.can_review(reviewer):
        raise ValidationError(_("%(name)s is not a QA reviewer.") % {"name": reviewer})


@transaction.atomic
def create_review(*, ticket: Ticket, actor: User, agent: User | None = None,
                  reviewer: User | None = None, scorecard: Scorecard | None = None,
                  source: str = Review.Source.MANUAL) -> Review:
    """A review of how `agent` (default: the assignee) handled `ticket`."""
    if not permissions.can_review(actor):
        raise PermissionDenied(_("Only QA reviewers create reviews."))
    agent = agent or ticket.assignee
    if agent is None:
        raise ValidationError(_("The ticket has no assignee to review."))
    reviewer = reviewer if reviewer is not None else (None if actor.pk == agent.pk else actor)
    _check_reviewer(reviewer, agent)
    card = scorecard or current_scorecard()
    if Review.objects.filter(scorecard__name=card.name, ticket=ticket).exists():
        raise ValidationError(_("This ticket has already been reviewed on this scorecard."))
    now = _now()
    review = Review.objects.create(
        scorecard=card, ticket=ticket, agent=agent, reviewer=reviewer, team=ticket.team,
        source=source, created_at=now, updated_at=now,
    )
    _event(review, ReviewEvent.Kind.CREATED, actor=actor)
    return review


def _locked(review: Review) -> Review:
    return Review.objects.select_for_update().select_related("scorecard").get(pk=review.pk)


@transaction.atomic
def assign_review(review: Review, *, reviewer: User, actor: User) -> Review:
    """Give a pending review to a reviewer (claiming it when actor == reviewer)."""
    review = _locked(review)
    if review.status not in PENDING_STATUSES:
        raise ValidationError(_("Only reviews not yet submitted can be reassigned."))
    claiming = reviewer.pk == actor.pk and review.reviewer_id is None
    if not (claiming or permissions.is_qa_lead(actor) or permissions.can_calibrate(actor)):
        raise PermissionDenied(_("You cannot assign this review."))
    _check_reviewer(reviewer, review.agent_id)
    review.reviewer = reviewer
    review.updated_at = _now()
    review.save(update_fields=["reviewer", "updated_at"])
    _event(review, ReviewEvent.Kind.ASSIGNED, actor=actor, note=str(reviewer))
    return review


def _check_scoring(review: Review, actor: User) -> None:
    if review.reviewer_id != actor.pk:
        raise PermissionDenied(_("Only the assigned reviewer scores this review."))
    if review.agent_id == actor.pk:  # also refused by the database check
        raise PermissionDenied(_("Reviewers cannot review their own tickets."))
    if review.status not in PENDING_STATUSES:
        raise ValidationError(_("This review has been submitted already."))


@transaction.atomic
def save_draft(review: Review, *, actor: User, data: ScoreInput) -> Review:
    """Keep the reviewer's work so far; the score is computed once every dimension is set."""
    review = _locked(review)
    _check_scoring(review, actor)
    scored = evaluate(review.scorecard, data)
    _write_scores(review, data, scored)
    review.summary = data.summary.strip()
    review.status = ReviewStatus.DRAFT
    review.updated_at = _now()
    review.save()
    return review


@transaction.atomic
def submit_review(review: Review, *, actor: User, data: ScoreInput) -> Review:
    """Score, submit and tell the agent (once, whatever retries happen)."""
    review = _locked(review)
    _check_scoring(review, actor)
    scored = evaluate(review.scorecard, data)
    if not scored.result.complete:
        raise ValidationError(_("Score every dimension (or mark it not applicable) to submit."))
    _write_scores(review, data, scored)
    now = _now()
    review.summary = data.summary.strip()
    review.status = ReviewStatus.SUBMITTED
    review.submitted_at = now
    review.updated_at = now
    review.save()
    _event(review, ReviewEvent.Kind.SUBMITTED, actor=actor, after=review.score)
    agent = review.agent
    def tell() -> None:
        with in_language_of(agent):
            title = _("QA review of ticket #%(ticket)s: %(score)s/100") % {
                "ticket": review.ticket_id, "score": formats.localize(review.score)}
            body = _("Your ticket was reviewed. Read the feedback, then acknowledge it or "
                     "dispute it with a comment.")
        notify(agent, title=title, source=SOURCE, body=body, url=_review_url(review),
               dedupe_key=f"qa.review.{review.pk}.submitted")

    transaction.on_commit(tell)
    return review


@transaction.atomic
def acknowledge(review: Review, *, actor: User) -> Review:
    review = _locked(review)
    if review.agent_id != actor.pk:
        raise PermissionDenied(_("Only the agent reviewed acknowledges a review."))
    if review.status != ReviewStatus.SUBMITTED:
        raise ValidationError(_("Only a submitted review can be acknowledged."))
    review.status = ReviewStatus.ACKNOWLEDGED
    review.acknowledged_at = review.updated_at = _now()
    review.save(update_fields=["status", "acknowledged_at", "updated_at"])
    _event(review, ReviewEvent.Kind.ACKNOWLEDGED, actor=actor)
    return review


def _qa_leads_of(review: Review) -> list[User]:
    """Leads of the review's team (or of the agent's teams); QA leads overall as fallback."""
    team_ids = [review.team_id] if review.team_id else list(
        Membership.objects.filter(user_id=review.agent_id).values_list("team_id", flat=True))
    leads = list(User.objects.filter(memberships__team_id__in=team_ids,
                                     memberships__is_lead=True, is_active=True)
                 .exclude(pk=review.agent_id).distinct())
    if not leads:
        leads = list(User.objects.filter(groups__name=Role.MANAGER, is_active=True).distinct())
    return leads


@transaction.atomic
def dispute(review: Review, *, actor: User, reason: str) -> Dispute:
    """The agent objects to a submitted review; their team lead is asked to resolve it."""
    review = _locked(review)
    if review.agent_id != actor.pk:
        raise PermissionDenied(_("Only the agent reviewed disputes a review."))
    if review.status not in (ReviewStatus.SUBMITTED, ReviewStatus.ACKNOWLEDGED):
        raise ValidationError(_("This review cannot be disputed (again)."))
    reason = reason.strip()
    if not reason:
        raise ValidationError(_("Say what you disagree with."))
    now = _now()
    item = Dispute.objects.create(review=review, raised_by=actor, raised_at=now, reason=reason,
                                  score_before=review.score)
    review.status = ReviewStatus.DISPUTED
    review.updated_at = now
    review.save(update_fields=["status", "updated_at"])
    _event(review, ReviewEvent.Kind.DISPUTED, actor=actor, note=reason, before=review.score)
    leads = _qa_leads_of(review)
    url = reverse("qa:dispute", args=[review.pk])

    def tell() -> None:
        for lead in leads:
            with in_language_of(lead):
                title = _("QA review of #%(ticket)s disputed by %(name)s") % {
                    "ticket": review.ticket_id, "name": actor}
            notify(lead, title=title, source="qa.dispute", body=reason[:500], url=url,
                   dedupe_key=f"qa.review.{review.pk}.disputed.{lead.pk}")

    transaction.on_commit(tell)
    return item


@transaction.atomic
def resolve_dispute(review: Review, *, actor: User, outcome: str, note: str,
                    data: ScoreInput | None = None) -> Dispute:
    """A lead keeps the score or revises the levels; the history keeps both scores."""
    review = _locked(review)
    if not permissions.is_qa_lead(actor):
        raise PermissionDenied(_("Only a team lead resolves disputes."))
    if actor.pk in (review.agent_id, review.reviewer_id):
        raise PermissionDenied(_("A dispute is resolved by someone other than its parties."))
    if review.status != ReviewStatus.DISPUTED:
        raise ValidationError(_("This review has no open dispute."))
    if not note.strip():
        raise ValidationError(_("Explain the decision to the agent."))
    item = Dispute.objects.select_for_update().get(review=review)
    before = review.score
    snapshot = _snapshot(review)
    if outcome == Dispute.Outcome.REVISED:
        if data is None:
            raise ValidationError(_("A revision needs the revised levels."))
        scored = evaluate(review.scorecard, data)
        if not scored.result.complete:
            raise ValidationError(_("Score every dimension (or mark it not applicable)."))
        data.summary = review.summary
        _write_scores(review, data, scored)
        kind = ReviewEvent.Kind.REVISED
    elif outcome == Dispute.Outcome.KEPT:
        kind = ReviewEvent.Kind.KEPT
    else:
        raise ValidationError(_("Choose whether the score is kept or revised."))
    now = _now()
    review.status = ReviewStatus.RESOLVED
    review.updated_at = now
    review.save()
    item.resolved_by, item.resolved_at, item.outcome = actor, now, outcome
    item.resolution_note, item.score_after = note.strip(), review.score
    item.save()
    _event(review, kind, actor=actor, note=note.strip(), before=before, after=review.score,
           data={"before": snapshot, "after": _snapshot(review)})
    agent = review.agent
    def tell() -> None:
        with in_language_of(agent):
            title = _("Dispute on #%(ticket)s resolved: %(outcome)s") % {
                "ticket": review.ticket_id, "outcome": item.get_outcome_display()}
        notify(agent, title=title, source=SOURCE, body=note.strip()[:500],
               url=_review_url(review), dedupe_key=f"qa.review.{review.pk}.resolved")

    transaction.on_commit(tell)
    return item


@transaction.atomic
def set_ticket_of_week(review: Review, *, actor: User, on: bool = True) -> Review:
    """Mark a submitted review's ticket as an example for the team (recognition)."""
    review = _locked(review)
    if not permissions.is_qa_lead(actor):
        raise PermissionDenied(_("Only team leads pick the ticket of the week."))
    if not review.is_finished:
        raise ValidationError(_("Pick a ticket whose review is submitted."))
    if review.is_ticket_of_week == on:
        return review
    review.is_ticket_of_week = on
    review.updated_at = _now()
    review.save(update_fields=["is_ticket_of_week", "updated_at"])
    _event(review, ReviewEvent.Kind.TICKET_OF_WEEK, actor=actor, note="set" if on else "unset")
    if on:
        agent = review.agent
        def tell() -> None:
            with in_language_of(agent):
                title = _("Ticket #%(ticket)s is the ticket of the week") % {
                    "ticket": review.ticket_id}
            notify(agent, title=title, source=SOURCE, url=_review_url(review),
                   dedupe_key=f"qa.review.{review.pk}.ticket_of_week")

        transaction.on_commit(tell)
    return review

"""Every QA write: scorecard versions, reviews and their lifecycle, disputes, coaching,
flags, the weekly sample and calibration sessions.

Each function runs in one transaction, checks who may act (PermissionDenied otherwise),
and leaves an append-only ReviewEvent where a review's history matters.
"""
from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from helpdesk.models import Membership, User
from helpdesk.notifications import notify
from helpdesk.roles import Role
from tickets.models import OPEN_STATUS_VALUES, Survey, Ticket
from tickets.state_machine import Status

from . import permissions, sampling, scoring
from .models import (
    PENDING_STATUSES,
    AutoFailItem,
    CalibrationDimensionScore,
    CalibrationItem,
    CalibrationScore,
    CalibrationSession,
    ChecklistItem,
    CoachingSession,
    Dimension,
    Dispute,
    QAFlag,
    Review,
    ReviewEvent,
    ReviewScore,
    ReviewStatus,
    RubricLevel,
    SampleRun,
    Scorecard,
)

SOURCE = "qa.review"
LOW_CSAT_MAX = 2  # survey ratings 1–2 flag a ticket for review
SLA_BREACH_LEVELS = ("breach", "severe")  # Ticket.sla_level colours written by the sla app
DONE_STATUSES = (Status.RESOLVED.value, Status.CLOSED.value)
DEFAULT_CALIBRATION_TICKETS = 3


def _now() -> datetime:
    return timezone.now()


# --- scorecards ---------------------------------------------------------------------------

def current_scorecard(name: str | None = None) -> Scorecard:
    """The current version of `name` (or of the first scorecard by name)."""
    qs = Scorecard.objects.filter(is_current=True)
    if name:
        qs = qs.filter(name=name)
    card = qs.order_by("name").first()
    if card is None:
        raise ValidationError("No current QA scorecard: create one in the admin.")
    return card


@dataclass
class VersionMap:
    """Old → new primary keys of the rows copied into a new scorecard version."""

    dimensions: dict[int, int] = field(default_factory=dict)
    levels: dict[int, int] = field(default_factory=dict)
    auto_fail_items: dict[int, int] = field(default_factory=dict)
    checklist_items: dict[int, int] = field(default_factory=dict)


@transaction.atomic
def new_scorecard_version(card: Scorecard) -> tuple[Scorecard, VersionMap]:
    """Copy a scorecard with all its rows as the next version, which becomes current.

    The old version and its rows stay exactly as they were: reviews keep using them.
    """
    card = Scorecard.objects.select_for_update().get(pk=card.pk)
    latest = (Scorecard.objects.filter(name=card.name).order_by("-version")
              .values_list("version", flat=True).first()) or card.version
    Scorecard.objects.filter(name=card.name, is_current=True).update(is_current=False)
    new = Scorecard.objects.create(name=card.name, version=latest + 1, is_current=True,
                                   description=card.description, previous=card)
    mapping = VersionMap()
    for dim in card.dimensions.all():
        old_pk = dim.pk
        dim.pk = None
        dim.scorecard = new
        dim.save()
        mapping.dimensions[old_pk] = dim.pk
    for level in card.levels.all():
        old_pk = level.pk
        level.pk = None
        level.scorecard = new
        level.dimension_id = mapping.dimensions[level.dimension_id]
        level.save()
        mapping.levels[old_pk] = level.pk
    for model, target in ((AutoFailItem, mapping.auto_fail_items),
                          (ChecklistItem, mapping.checklist_items)):
        for item in model.objects.filter(scorecard=card):
            old_pk = item.pk
            item.pk = None
            item.scorecard = new
            item.save()
            target[old_pk] = item.pk
    return new, mapping


def scorecard_for_edit(card: Scorecard) -> tuple[Scorecard, VersionMap | None]:
    """The row to edit: the card itself while unused, else a new version of it."""
    if not card.is_used:
        return card, None
    return new_scorecard_version(card)


# --- scoring input --------------------------------------------------------------------------

@dataclass
class ScoreInput:
    """What a reviewer picked: a level (or N/A) per dimension, comments, ticked items."""

    levels: dict[int, int | None] = field(default_factory=dict)  # dimension id → level id
    not_applicable: set[int] = field(default_factory=set)  # dimension ids
    comments: dict[int, str] = field(default_factory=dict)
    auto_fail: set[int] = field(default_factory=set)  # AutoFailItem ids
    checklist: set[int] = field(default_factory=set)  # ChecklistItem ids
    summary: str = ""


@dataclass
class Scored:
    result: scoring.Result
    dimensions: list[Dimension]
    levels: dict[int, RubricLevel | None]  # dimension id → level


def evaluate(card: Scorecard, data: ScoreInput) -> Scored:
    """Check the picks belong to `card` and compute the score (pure of writes)."""
    dimensions = list(card.dimensions.all())
    levels_by_id = {lv.pk: lv for lv in RubricLevel.objects.filter(scorecard=card)}
    dim_ids = {d.pk for d in dimensions}
    unknown = (set(data.levels) | data.not_applicable) - dim_ids
    if unknown:
        raise ValidationError("A score refers to a dimension of another scorecard.")
    if data.auto_fail - set(card.auto_fail_items.values_list("pk", flat=True)):
        raise ValidationError("An auto-fail item of another scorecard was given.")
    if data.checklist - set(card.checklist_items.values_list("pk", flat=True)):
        raise ValidationError("A checklist item of another scorecard was given.")
    picked: dict[int, RubricLevel | None] = {}
    parts = []
    for dim in dimensions:
        level_id = data.levels.get(dim.pk)
        level = None
        if level_id is not None and dim.pk not in data.not_applicable:
            level = levels_by_id.get(level_id)
            if level is None or level.dimension_id != dim.pk:
                raise ValidationError(f"Pick a level of “{dim.name}”.")
        picked[dim.pk] = level
        parts.append(scoring.DimensionScore(
            weight=dim.weight, points=level.points if level else None,
            not_applicable=dim.pk in data.not_applicable))
    try:
        result = scoring.compute(parts, auto_fail=bool(data.auto_fail))
    except scoring.ScoringError as exc:
        raise ValidationError(str(exc)) from exc
    return Scored(result, dimensions, picked)


def _snapshot(review: Review) -> dict[str, Any]:
    """The review's picks, for the history of a revision."""
    return {
        "score": str(review.score) if review.score is not None else None,
        "auto_failed": review.auto_failed,
        "levels": {str(s.dimension_id): (s.level.points if s.level else None)
                   for s in review.scores.select_related("level")},
        "not_applicable": [s.dimension_id for s in review.scores.all() if s.not_applicable],
        "auto_fail_items": sorted(review.auto_fail_items.values_list("pk", flat=True)),
    }


def _write_scores(review: Review, data: ScoreInput, scored: Scored) -> None:
    existing = {s.dimension_id: s for s in review.scores.all()}
    for dim in scored.dimensions:
        row = existing.get(dim.pk) or ReviewScore(review=review, dimension=dim)
        row.level = scored.levels[dim.pk]
        row.not_applicable = dim.pk in data.not_applicable
        row.comment = data.comments.get(dim.pk, "").strip()
        row.save()
    review.auto_fail_items.set(data.auto_fail)
    review.checklist_items.set(data.checklist)
    review.score = scored.result.score
    review.auto_failed = scored.result.auto_failed


def review_input(review: Review) -> ScoreInput:
    """The stored picks of a review, as a ScoreInput (to prefill forms)."""
    scores = list(review.scores.all())
    return ScoreInput(
        levels={s.dimension_id: s.level_id for s in scores if s.level_id},
        not_applicable={s.dimension_id for s in scores if s.not_applicable},
        comments={s.dimension_id: s.comment for s in scores},
        auto_fail=set(review.auto_fail_items.values_list("pk", flat=True)),
        checklist=set(review.checklist_items.values_list("pk", flat=True)),
        summary=review.summary,
    )


def _event(review: Review, kind: str, *, actor: User | None, note: str = "",
           before: Any = None, after: Any = None, data: dict | None = None) -> ReviewEvent:
    return ReviewEvent.objects.create(review=review, actor=actor, at=_now(), kind=kind,
                                      note=note, score_before=before, score_after=after,
                                      data=data or {})


def _review_url(review: Review) -> str:
    return reverse("qa:review", args=[review.pk])


# --- reviews --------------------------------------------------------------------------------

def _check_reviewer(reviewer: User | None, agent: User | int) -> None:
    agent_id = agent if isinstance(agent, int) else agent.pk
    if reviewer is None:
        return
    if reviewer.pk == agent_id:
        raise ValidationError("Reviewers cannot review their own tickets.")
    if not permissions.can_review(reviewer):
        raise ValidationError(f"{reviewer} is not a QA reviewer.")


@transaction.atomic
def create_review(*, ticket: Ticket, actor: User, agent: User | None = None,
                  reviewer: User | None = None, scorecard: Scorecard | None = None,
                  source: str = Review.Source.MANUAL) -> Review:
    """A review of how `agent` (default: the assignee) handled `ticket`."""
    if not permissions.can_review(actor):
        raise PermissionDenied("Only QA reviewers create reviews.")
    agent = agent or ticket.assignee
    if agent is None:
        raise ValidationError("The ticket has no assignee to review.")
    reviewer = reviewer if reviewer is not None else (None if actor.pk == agent.pk else actor)
    _check_reviewer(reviewer, agent)
    card = scorecard or current_scorecard()
    if Review.objects.filter(scorecard__name=card.name, ticket=ticket).exists():
        raise ValidationError("This ticket has already been reviewed on this scorecard.")
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
        raise ValidationError("Only reviews not yet submitted can be reassigned.")
    claiming = reviewer.pk == actor.pk and review.reviewer_id is None
    if not (claiming or permissions.is_qa_lead(actor) or permissions.can_calibrate(actor)):
        raise PermissionDenied("You cannot assign this review.")
    _check_reviewer(reviewer, review.agent_id)
    review.reviewer = reviewer
    review.updated_at = _now()
    review.save(update_fields=["reviewer", "updated_at"])
    _event(review, ReviewEvent.Kind.ASSIGNED, actor=actor, note=str(reviewer))
    return review


def _check_scoring(review: Review, actor: User) -> None:
    if review.reviewer_id != actor.pk:
        raise PermissionDenied("Only the assigned reviewer scores this review.")
    if review.agent_id == actor.pk:  # also refused by the database check
        raise PermissionDenied("Reviewers cannot review their own tickets.")
    if review.status not in PENDING_STATUSES:
        raise ValidationError("This review has been submitted already.")


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
        raise ValidationError("Score every dimension (or mark it not applicable) to submit.")
    _write_scores(review, data, scored)
    now = _now()
    review.summary = data.summary.strip()
    review.status = ReviewStatus.SUBMITTED
    review.submitted_at = now
    review.updated_at = now
    review.save()
    _event(review, ReviewEvent.Kind.SUBMITTED, actor=actor, after=review.score)
    agent = review.agent
    transaction.on_commit(lambda: notify(
        agent, title=f"QA review of ticket #{review.ticket_id}: {review.score}/100",
        source=SOURCE, body="Your ticket was reviewed. Read the feedback, then acknowledge "
        "it or dispute it with a comment.", url=_review_url(review),
        dedupe_key=f"qa.review.{review.pk}.submitted"))
    return review


@transaction.atomic
def acknowledge(review: Review, *, actor: User) -> Review:
    review = _locked(review)
    if review.agent_id != actor.pk:
        raise PermissionDenied("Only the agent reviewed acknowledges a review.")
    if review.status != ReviewStatus.SUBMITTED:
        raise ValidationError("Only a submitted review can be acknowledged.")
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
        raise PermissionDenied("Only the agent reviewed disputes a review.")
    if review.status not in (ReviewStatus.SUBMITTED, ReviewStatus.ACKNOWLEDGED):
        raise ValidationError("This review cannot be disputed (again).")
    reason = reason.strip()
    if not reason:
        raise ValidationError("Say what you disagree with.")
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
            notify(lead, title=f"QA review of #{review.ticket_id} disputed by {actor}",
                   source="qa.dispute", body=reason[:500], url=url,
                   dedupe_key=f"qa.review.{review.pk}.disputed.{lead.pk}")

    transaction.on_commit(tell)
    return item


@transaction.atomic
def resolve_dispute(review: Review, *, actor: User, outcome: str, note: str,
                    data: ScoreInput | None = None) -> Dispute:
    """A lead keeps the score or revises the levels; the history keeps both scores."""
    review = _locked(review)
    if not permissions.is_qa_lead(actor):
        raise PermissionDenied("Only a team lead resolves disputes.")
    if actor.pk in (review.agent_id, review.reviewer_id):
        raise PermissionDenied("A dispute is resolved by someone other than its parties.")
    if review.status != ReviewStatus.DISPUTED:
        raise ValidationError("This review has no open dispute.")
    if not note.strip():
        raise ValidationError("Explain the decision to the agent.")
    item = Dispute.objects.select_for_update().get(review=review)
    before = review.score
    snapshot = _snapshot(review)
    if outcome == Dispute.Outcome.REVISED:
        if data is None:
            raise ValidationError("A revision needs the revised levels.")
        scored = evaluate(review.scorecard, data)
        if not scored.result.complete:
            raise ValidationError("Score every dimension (or mark it not applicable).")
        data.summary = review.summary
        _write_scores(review, data, scored)
        kind = ReviewEvent.Kind.REVISED
    elif outcome == Dispute.Outcome.KEPT:
        kind = ReviewEvent.Kind.KEPT
    else:
        raise ValidationError("Choose whether the score is kept or revised.")
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
    transaction.on_commit(lambda: notify(
        agent, title=f"Dispute on #{review.ticket_id} resolved: {item.get_outcome_display()}",
        source=SOURCE, body=note.strip()[:500], url=_review_url(review),
        dedupe_key=f"qa.review.{review.pk}.resolved"))
    return item


@transaction.atomic
def set_ticket_of_week(review: Review, *, actor: User, on: bool = True) -> Review:
    """Mark a submitted review's ticket as an example for the team (recognition)."""
    review = _locked(review)
    if not permissions.is_qa_lead(actor):
        raise PermissionDenied("Only team leads pick the ticket of the week.")
    if not review.is_finished:
        raise ValidationError("Pick a ticket whose review is submitted.")
    if review.is_ticket_of_week == on:
        return review
    review.is_ticket_of_week = on
    review.updated_at = _now()
    review.save(update_fields=["is_ticket_of_week", "updated_at"])
    _event(review, ReviewEvent.Kind.TICKET_OF_WEEK, actor=actor, note="set" if on else "unset")
    if on:
        agent = review.agent
        transaction.on_commit(lambda: notify(
            agent, title=f"Ticket #{review.ticket_id} is the ticket of the week",
            source=SOURCE, url=_review_url(review),
            dedupe_key=f"qa.review.{review.pk}.ticket_of_week"))
    return review


# --- coaching and flags ---------------------------------------------------------------------

@transaction.atomic
def record_coaching(*, agent: User, coach: User, held_on: date, strengths: str,
                    development_focus: str, goals: str = "", follow_up_on: date | None = None,
                    notes: str = "", reviews: Iterable[Review] = ()) -> CoachingSession:
    if not permissions.is_qa_lead(coach):
        raise PermissionDenied("Only team leads record coaching sessions.")
    if coach.pk == agent.pk:
        raise ValidationError("Coaching is recorded for someone else.")
    if not strengths.strip() or not development_focus.strip():
        raise ValidationError("Record the strengths and one development focus.")
    if follow_up_on and follow_up_on < held_on:
        raise ValidationError("The follow-up comes after the session.")
    reviews = list(reviews)
    if any(r.agent_id != agent.pk for r in reviews):
        raise ValidationError("Link only reviews of this agent.")
    item = CoachingSession.objects.create(
        agent=agent, coach=coach, held_on=held_on, strengths=strengths.strip(),
        development_focus=development_focus.strip(), goals=goals.strip(),
        follow_up_on=follow_up_on, notes=notes.strip(), created_at=_now())
    item.reviews.set(reviews)
    transaction.on_commit(lambda: notify(
        agent, title=f"Coaching notes from {coach} ({held_on:%d %b})", source="qa.coaching",
        url=reverse("qa:coaching_detail", args=[item.pk]),
        dedupe_key=f"qa.coaching.{item.pk}"))
    return item


def flag_ticket(ticket: Ticket, *, actor: User, note: str = "") -> QAFlag:
    """A lead asks for this ticket to be in the next QA sample (idempotent)."""
    if not permissions.is_qa_lead(actor):
        raise PermissionDenied("Only team leads flag tickets for QA.")
    flag, _ = QAFlag.objects.get_or_create(
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


# --- the weekly sample ----------------------------------------------------------------------

def previous_week_start(today: date) -> date:
    """Monday of the last complete ISO week before `today`."""
    return today - timedelta(days=today.weekday() + 7)


def _reviewer_pool() -> list[int]:
    return list(User.objects.filter(groups__name=Role.QA_REVIEWER, is_active=True)
                .order_by("pk").values_list("pk", flat=True).distinct())


def _team_sizes() -> tuple[dict[int, int], dict[int, list[int]]]:
    """Agents (non-lead members) per team, and each agent's teams."""
    sizes = dict(Membership.objects.filter(is_lead=False, user__is_active=True)
                 .values("team_id").annotate(n=Count("pk")).values_list("team_id", "n"))
    teams_of: dict[int, list[int]] = defaultdict(list)
    for user_id, team_id in Membership.objects.values_list("user_id", "team_id"):
        teams_of[user_id].append(team_id)
    return sizes, teams_of


def _leads_by_team() -> dict[int, list[int]]:
    out: dict[int, list[int]] = defaultdict(list)
    for team_id, user_id in (Membership.objects.filter(is_lead=True, user__is_active=True)
                             .order_by("user_id").values_list("team_id", "user_id")):
        out[team_id].append(user_id)
    return out


def run_weekly_sampling(*, week_start: date | None = None,
                        scorecard: Scorecard | None = None) -> int:
    """Create the week's reviews: flagged tickets plus a stratified random sample per agent.

    Samples tickets resolved in the ISO week starting `week_start` (default: last week).
    Claims a SampleRun first, so a second run for the same week creates nothing; tickets
    reviewed before on any version of the scorecard are never drawn again.
    """
    week_start = week_start or previous_week_start(timezone.localdate())
    week_start = week_start - timedelta(days=week_start.weekday())
    card = scorecard or current_scorecard()
    start = datetime.combine(week_start, time.min, tzinfo=timezone.get_current_timezone())
    end = start + timedelta(days=7)
    with transaction.atomic():
        try:
            with transaction.atomic():
                run = SampleRun.objects.create(scorecard=card, week_start=week_start,
                                               started_at=_now())
        except IntegrityError:
            return 0
        created = _sample_week(card, week_start, start, end)
        run.reviews_created = len(created)
        run.save(update_fields=["reviews_created"])
    _tell_reviewers(created, week_start)
    return len(created)


def _sample_week(card: Scorecard, week_start: date, start: datetime,
                 end: datetime) -> list[Review]:
    done = Q(status__in=DONE_STATUSES, assignee__isnull=False, merged_into__isnull=True)
    rows = list(Ticket.objects.filter(done, resolved_at__gte=start, resolved_at__lt=end)
                .values("pk", "assignee_id", "team_id", "category_id", "priority",
                        "reopen_count", "sla_level"))
    reviewed = set(Review.objects.filter(
        scorecard__name=card.name, ticket__resolved_at__gte=start, ticket__resolved_at__lt=end,
    ).values_list("ticket_id", flat=True))
    reasons: dict[int, list[str]] = defaultdict(list)
    for row in rows:
        if row["reopen_count"] > 0:
            reasons[row["pk"]].append("reopened")
        if row["sla_level"] in SLA_BREACH_LEVELS:
            reasons[row["pk"]].append("SLA breached")
    for ticket_id in Survey.objects.filter(
            ticket__resolved_at__gte=start, ticket__resolved_at__lt=end,
            rating__isnull=False, rating__lte=LOW_CSAT_MAX).values_list("ticket_id", flat=True):
        reasons[ticket_id].append("low CSAT")
    for ticket_id in QAFlag.objects.filter(
            reason=QAFlag.Reason.SLA_BREACHED, ticket__resolved_at__gte=start,
            ticket__resolved_at__lt=end).values_list("ticket_id", flat=True):
        if "SLA breached" not in reasons[ticket_id]:
            reasons[ticket_id].append("SLA breached")
    # Tickets resolved before the week still count when a lead flagged them, or when
    # their low rating arrived this week, as long as they were never reviewed.
    older = dict(ticket__status__in=DONE_STATUSES, ticket__assignee__isnull=False,
                 ticket__merged_into__isnull=True, ticket__resolved_at__lt=start)
    fields = ("ticket_id", "ticket__assignee_id", "ticket__team_id", "ticket__category_id",
              "ticket__priority")
    late = [
        ("flagged by a lead", QAFlag.objects.filter(reason=QAFlag.Reason.LEAD, **older)),
        ("low CSAT", Survey.objects.filter(rating__isnull=False, rating__lte=LOW_CSAT_MAX,
                                           responded_at__gte=start, responded_at__lt=end,
                                           **older)),
    ]
    by_id = {r["pk"]: r for r in rows}
    for flag in QAFlag.objects.filter(reason=QAFlag.Reason.LEAD, ticket__resolved_at__gte=start,
                                      ticket__resolved_at__lt=end).values_list("ticket_id",
                                                                               flat=True):
        reasons[flag].append("flagged by a lead")
    for reason, qs in late:
        for row in qs.exclude(ticket__qa_reviews__scorecard__name=card.name).values(*fields):
            by_id.setdefault(row["ticket_id"], {
                "pk": row["ticket_id"], "assignee_id": row["ticket__assignee_id"],
                "team_id": row["ticket__team_id"], "category_id": row["ticket__category_id"],
                "priority": row["ticket__priority"]})
            if reason not in reasons[row["ticket_id"]]:
                reasons[row["ticket_id"]].append(reason)

    sizes, teams_of = _team_sizes()
    pool = _reviewer_pool()
    leads = _leads_by_team()
    load = Counter(dict(Review.objects.filter(status__in=PENDING_STATUSES,
                                              reviewer__isnull=False)
                        .values("reviewer_id").annotate(n=Count("pk"))
                        .values_list("reviewer_id", "n")))
    by_agent: dict[int, list[dict]] = defaultdict(list)
    for row in by_id.values():
        if row["pk"] not in reviewed:
            by_agent[row["assignee_id"]].append(row)

    now = _now()
    new: list[Review] = []
    for agent_id in sorted(by_agent):
        tickets = by_agent[agent_id]
        flagged = sorted(r["pk"] for r in tickets if reasons.get(r["pk"]))
        team_size = max((sizes.get(t, 0) for t in teams_of.get(agent_id, [])), default=1)
        n = sampling.sample_size(max(team_size, 1))
        picked = sampling.stratified_sample(
            [sampling.Candidate(r["pk"], r["category_id"], r["priority"]) for r in tickets],
            n, seed=sampling.week_seed(week_start, agent_id, card.name), exclude=flagged)
        rows_by_pk = {r["pk"]: r for r in tickets}
        for ticket_id, source in ([(t, Review.Source.FLAGGED) for t in flagged]
                                  + [(t, Review.Source.SAMPLE) for t in picked]):
            row = rows_by_pk[ticket_id]
            candidates = pool or leads.get(row["team_id"], [])
            reviewer_id = sampling.pick_reviewer(agent_id, candidates, load)
            if reviewer_id is not None:
                load[reviewer_id] += 1
            new.append(Review(
                scorecard=card, ticket_id=ticket_id, agent_id=agent_id, reviewer_id=reviewer_id,
                team_id=row["team_id"], source=source, week_start=week_start,
                flag_reasons=", ".join(dict.fromkeys(reasons.get(ticket_id, []))),
                created_at=now, updated_at=now))
    Review.objects.bulk_create(new, ignore_conflicts=True)
    created = list(Review.objects.filter(scorecard=card, week_start=week_start,
                                         ticket_id__in=[r.ticket_id for r in new]))
    ReviewEvent.objects.bulk_create([
        ReviewEvent(review=r, actor=None, at=now, kind=ReviewEvent.Kind.CREATED,
                    note=f"{r.get_source_display()} of week {week_start:%G-W%V}")
        for r in created])
    return created


def _tell_reviewers(reviews: list[Review], week_start: date) -> None:
    per_reviewer = Counter(r.reviewer_id for r in reviews if r.reviewer_id)
    if not per_reviewer:
        return
    users = User.objects.in_bulk(list(per_reviewer))
    for reviewer_id, n in per_reviewer.items():
        notify(users[reviewer_id], title=f"{n} tickets to review for week {week_start:%G-W%V}",
               source="qa.sample", url=reverse("qa:queue", args=["mine"]),
               dedupe_key=f"qa.sample.{week_start.isoformat()}.{reviewer_id}")


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
        raise PermissionDenied("You cannot run calibration sessions.")
    people = list({p.pk: p for p in participants}.values())
    if len(people) < 2:
        raise ValidationError("Calibration needs at least two reviewers.")
    if any(not permissions.can_review(p) for p in people):
        raise ValidationError("Every participant must be a QA reviewer.")
    ticket_ids = ([t.pk for t in tickets] if tickets is not None
                  else pick_calibration_tickets())
    ticket_ids = list(dict.fromkeys(ticket_ids))
    if not ticket_ids:
        raise ValidationError("Pick at least one ticket.")
    session = CalibrationSession.objects.create(
        title=title.strip() or "Calibration", scorecard=scorecard or current_scorecard(),
        facilitator=facilitator, created_at=_now())
    session.participants.set(people)
    CalibrationItem.objects.bulk_create([
        CalibrationItem(session=session, ticket_id=pk, order=i)
        for i, pk in enumerate(ticket_ids)])
    url = session.get_absolute_url()

    def tell() -> None:
        for person in people:
            if person.pk != facilitator.pk:
                notify(person, title=f"Calibration: score {len(ticket_ids)} tickets blind",
                       source="qa.calibration", url=url,
                       dedupe_key=f"qa.calibration.{session.pk}.{person.pk}")

    transaction.on_commit(tell)
    return session


@transaction.atomic
def submit_calibration_score(item: CalibrationItem, *, reviewer: User,
                             data: ScoreInput) -> CalibrationScore:
    """A participant's blind score; final once submitted (the comparison depends on it)."""
    session = CalibrationSession.objects.select_for_update().get(pk=item.session_id)
    if session.status != CalibrationSession.Status.OPEN:
        raise ValidationError("This session is closed.")
    if not session.participants.filter(pk=reviewer.pk).exists():
        raise PermissionDenied("You are not a participant of this session.")
    if CalibrationScore.objects.filter(item=item, reviewer=reviewer,
                                       submitted_at__isnull=False).exists():
        raise ValidationError("You have already scored this ticket.")
    scored = evaluate(session.scorecard, data)
    if not scored.result.complete:
        raise ValidationError("Score every dimension (or mark it not applicable).")
    score, _ = CalibrationScore.objects.update_or_create(
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
        raise PermissionDenied("Only the facilitator records the agreed score.")
    if session.status != CalibrationSession.Status.OPEN:
        raise ValidationError("This session is closed.")
    if not item.scores.filter(submitted_at__isnull=False).exists():
        raise ValidationError("Wait for the reviewers' scores first.")
    scored = evaluate(session.scorecard, data)
    if not scored.result.complete:
        raise ValidationError("Score every dimension (or mark it not applicable).")
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
        raise PermissionDenied("Only the facilitator closes the session.")
    if session.status == CalibrationSession.Status.CLOSED:
        return session
    if session.items.filter(agreed_score__isnull=True).exists():
        raise ValidationError("Record the agreed score of every ticket first.")
    session.status = CalibrationSession.Status.CLOSED
    session.closed_at = _now()
    if notes.strip():
        session.notes = notes.strip()
    session.save()
    return session


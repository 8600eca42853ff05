"""QA reads shared by views and the API: who sees which review, the queues, calibration
results (blind until you have scored), and the dashboard figures."""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from django.db.models import Avg, Count, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import TruncWeek
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop, pgettext
from django.utils.translation import gettext_lazy as _

from helpdesk.models import Membership, User
from tickets.models import Survey

from . import permissions, scoring, stats
from .models import (
    FINISHED_STATUSES,
    PENDING_STATUSES,
    CalibrationItem,
    CalibrationScore,
    CalibrationSession,
    CoachingSession,
    Dispute,
    Review,
    ReviewEvent,
    ReviewStatus,
)

# The reasons the weekly sample stores in Review.flag_reasons (English, comma-separated),
# translated when a page shows them.
FLAG_REASON_WORDS: dict[str, str] = {
    "reopened": gettext_noop("reopened"), "SLA breached": gettext_noop("SLA breached"),
    "low CSAT": gettext_noop("low CSAT"), "flagged by a lead": gettext_noop("flagged by a lead"),
}


def flag_reasons_text(stored: str) -> str:
    """"reopened, low CSAT" in the reader's language; reasons it does not know, as is."""
    if not stored:
        return ""
    return ", ".join(gettext(FLAG_REASON_WORDS[r]) if r in FLAG_REASON_WORDS else r
                     for r in stored.split(", "))


# The weekly sample's "created" note: "<source label> of week 2026-W10" (English).
_SAMPLED_NOTE = re.compile(r"(?P<source>.+) of week (?P<week>\d{4}-W\d{2})")


@cache
def _source_by_label() -> dict[str, str]:
    with translation.override(None):
        return {str(s.label): s.value for s in Review.Source}


def review_event_note(note: str, kind: str) -> str:
    """A review event's stored note in the reader's language: the sample's source and
    week, the ticket-of-the-week switch; people's words (disputes, names) as written."""
    if kind == ReviewEvent.Kind.TICKET_OF_WEEK and note in ("set", "unset"):
        return (pgettext("ticket of the week", "set") if note == "set"
                else pgettext("ticket of the week", "unset"))
    if kind == ReviewEvent.Kind.CREATED and (match := _SAMPLED_NOTE.fullmatch(note)):
        source = _source_by_label().get(match["source"])
        if source is not None:
            return gettext("%(source)s of week %(week)s") % {
                "source": Review.Source(source).label, "week": match["week"]}
    return note


# --- reviews --------------------------------------------------------------------------------

def visible_reviews(user: User) -> QuerySet[Review]:
    """Reviews `user` may read: all for QA staff; an agent their own once submitted, and
    the ones they review. Customers none."""
    qs = Review.objects.all()
    if not permissions.uses_qa(user):
        return qs.none()
    if permissions.can_view_all(user):
        return qs
    return qs.filter(Q(agent=user, status__in=FINISHED_STATUSES) | Q(reviewer=user))


def with_list_relations(qs: QuerySet[Review]) -> QuerySet[Review]:
    return qs.select_related("ticket", "agent", "reviewer", "scorecard", "team")


def get_review_for(user: User, pk: int | str) -> Review:
    try:
        pk = int(pk)
    except (TypeError, ValueError) as exc:
        raise Http404("No such review") from exc
    review = with_list_relations(visible_reviews(user)).filter(pk=pk).first()
    if review is None:
        raise Http404("No such review")
    return review


QUEUES = {"mine": _("My queue"), "unassigned": _("Unassigned"), "done": _("Submitted by me")}


def queue(user: User, name: str) -> QuerySet[Review]:
    """A reviewer's queue: their pending reviews (oldest first), the unassigned pool, or
    what they submitted (newest first)."""
    if name not in QUEUES:
        raise Http404("No such queue")
    if not permissions.can_review(user):
        return Review.objects.none()
    if name == "mine":
        qs = Review.objects.filter(reviewer=user, status__in=PENDING_STATUSES).order_by(
            "created_at", "id")
    elif name == "unassigned":
        qs = Review.objects.filter(reviewer__isnull=True, status__in=PENDING_STATUSES).exclude(
            agent=user).order_by("created_at", "id")
    else:
        qs = Review.objects.filter(reviewer=user, status__in=FINISHED_STATUSES).order_by(
            "-submitted_at", "-id")
    return with_list_relations(qs)


def queue_counts(user: User) -> dict[str, int]:
    if not permissions.can_review(user):
        return dict.fromkeys(QUEUES, 0)
    pending = Q(status__in=PENDING_STATUSES)
    return Review.objects.aggregate(
        mine=Count("pk", filter=pending & Q(reviewer=user)),
        unassigned=Count("pk", filter=pending & Q(reviewer__isnull=True) & ~Q(agent=user)),
        done=Count("pk", filter=Q(reviewer=user, status__in=FINISHED_STATUSES)),
    )


def my_reviews(user: User) -> QuerySet[Review]:
    """The agent's own submitted reviews, newest first."""
    return with_list_relations(Review.objects.filter(
        agent=user, status__in=FINISHED_STATUSES).order_by("-submitted_at", "-id"))


def open_disputes(user: User) -> QuerySet[Review]:
    """Disputed reviews a lead may resolve (never their own as agent or reviewer)."""
    if not permissions.is_qa_lead(user):
        return Review.objects.none()
    return with_list_relations(
        Review.objects.filter(status=ReviewStatus.DISPUTED).exclude(
            Q(agent=user) | Q(reviewer=user)).select_related("dispute")
        .order_by("dispute__raised_at"))


def review_detail(review: Review) -> dict[str, Any]:
    """Scores by dimension with their level and the rubric, the history, the dispute."""
    card = review.scorecard
    dimensions = list(card.dimensions.prefetch_related("levels"))
    scores = {s.dimension_id: s for s in review.scores.select_related("level")}
    return {
        "dimensions": [{"dimension": d, "levels": list(d.levels.all()),
                        "score": scores.get(d.pk)} for d in dimensions],
        "auto_fail_items": list(card.auto_fail_items.all()),
        "checklist_items": list(card.checklist_items.all()),
        "ticked_auto_fail": set(review.auto_fail_items.values_list("pk", flat=True)),
        "ticked_checklist": set(review.checklist_items.values_list("pk", flat=True)),
        "events": list(review.events.select_related("actor")),
        "dispute": Dispute.objects.filter(review=review).select_related(
            "raised_by", "resolved_by").first(),
    }


def reviews_of_ticket(user: User, ticket_id: int) -> list[Review]:
    return list(with_list_relations(visible_reviews(user).filter(ticket_id=ticket_id)))


def coaching_for(user: User) -> QuerySet[CoachingSession]:
    """Coaching records: all for QA leads, an agent's own otherwise."""
    qs = CoachingSession.objects.select_related("agent", "coach")
    if permissions.is_qa_lead(user) or permissions.can_view_all(user):
        return qs
    if permissions.uses_qa(user):
        return qs.filter(agent=user)
    return qs.none()


# --- calibration ------------------------------------------------------------------------------

def calibration_sessions(user: User) -> QuerySet[CalibrationSession]:
    if not permissions.uses_qa(user):
        return CalibrationSession.objects.none()
    qs = CalibrationSession.objects.select_related("facilitator", "scorecard")
    if permissions.can_calibrate(user) or permissions.can_view_all(user):
        return qs
    return qs.filter(participants=user).distinct()


def get_session_for(user: User, pk: int | str) -> CalibrationSession:
    try:
        pk = int(pk)
    except (TypeError, ValueError) as exc:
        raise Http404("No such session") from exc
    session = calibration_sessions(user).filter(pk=pk).first()
    if session is None:
        raise Http404("No such session")
    return session


@dataclass
class DimensionSpread:
    name: str
    weight: int
    points: list[float]
    spread: stats.Spread
    agreed: int | None = None


@dataclass
class ItemResult:
    item: CalibrationItem
    my_score: CalibrationScore | None
    submitted: int
    expected: int
    visible: bool  # False: blind, the user sees only how many have scored
    scores: list[CalibrationScore] = field(default_factory=list)
    total: stats.Spread | None = None
    dimensions: list[DimensionSpread] = field(default_factory=list)


def calibration_results(session: CalibrationSession, user: User) -> list[ItemResult]:
    """Per ticket, the reviewers' scores and their spread, total and per dimension.

    Blind: a participant sees other scores of a ticket only once they have submitted
    their own for it; a facilitator who does not score sees them when everyone has
    scored; after the session closes everyone sees everything.
    """
    items = list(session.items.select_related("ticket"))
    participant_ids = set(session.participants.values_list("pk", flat=True))
    scores = list(CalibrationScore.objects.filter(item__session=session,
                                                  submitted_at__isnull=False)
                  .select_related("reviewer").prefetch_related(
                      "dimension_scores__level", "dimension_scores__dimension")
                  .order_by("item_id", "reviewer__username"))
    by_item: dict[int, list[CalibrationScore]] = defaultdict(list)
    for s in scores:
        by_item[s.item_id].append(s)
    dimensions = list(session.scorecard.dimensions.all())
    closed = session.status == CalibrationSession.Status.CLOSED
    results = []
    for item in items:
        item_scores = by_item.get(item.pk, [])
        mine = next((s for s in item_scores if s.reviewer_id == user.pk), None)
        everyone_done = participant_ids <= {s.reviewer_id for s in item_scores}
        visible = closed or mine is not None or (
            session.facilitator_id == user.pk and user.pk not in participant_ids
            and everyone_done)
        result = ItemResult(item=item, my_score=mine, submitted=len(item_scores),
                            expected=len(participant_ids), visible=visible)
        if visible:
            result.scores = item_scores
            result.total = stats.describe(float(s.score) for s in item_scores)
            for dim in dimensions:
                points = [float(ds.level.points) for s in item_scores
                          for ds in s.dimension_scores.all()
                          if ds.dimension_id == dim.pk and ds.level is not None
                          and not ds.not_applicable]
                agreed = (item.agreed_levels or {}).get(str(dim.pk))
                result.dimensions.append(DimensionSpread(dim.name, dim.weight, points,
                                                         stats.describe(points), agreed))
        results.append(result)
    return results


def reviewer_drift(*, since: datetime | None = None) -> list[dict[str, Any]]:
    """Each reviewer's deviation from agreed calibration scores, overall and by month."""
    qs = CalibrationScore.objects.filter(submitted_at__isnull=False,
                                         item__agreed_score__isnull=False)
    if since is not None:
        qs = qs.filter(submitted_at__gte=since)
    rows = list(qs.values_list("reviewer_id", "submitted_at", "score", "item__agreed_score"))
    zone = timezone.get_current_timezone()
    result = stats.drift(
        (reviewer, at.astimezone(zone).strftime("%Y-%m"), score, agreed)
        for reviewer, at, score, agreed in rows)
    names = User.objects.in_bulk(list(result))
    return sorted(
        ({"reviewer": names[r], "n": d.n, "bias": d.bias, "mean_abs": d.mean_abs,
          "by_period": d.by_period} for r, d in result.items()),
        key=lambda row: -row["mean_abs"])


# --- dashboard --------------------------------------------------------------------------------

COVERAGE_TARGET = 100.0
CRITICAL_FAIL_TARGET = 2.0
CALIBRATION_VARIANCE_TARGET = stats.DISAGREEMENT_POINTS


@dataclass(frozen=True)
class DashboardFilters:
    start: datetime
    end: datetime
    team_id: int | None = None
    dimension: str = ""  # a dimension name (the same across scorecard versions)


def finished_reviews(filters: DashboardFilters) -> QuerySet[Review]:
    qs = Review.objects.filter(status__in=FINISHED_STATUSES, score__isnull=False,
                               submitted_at__gte=filters.start, submitted_at__lt=filters.end)
    if filters.team_id:
        qs = qs.filter(team_id=filters.team_id)
    return qs


def _band_counts(qs: QuerySet[Review]) -> dict[str, int]:
    """Reviews per score band, counted in one SQL aggregate."""
    aggregates = {}
    upper = None
    ok = Q(auto_failed=False)
    for key, _label, floor in scoring.BANDS:
        cond = ok & Q(score__gte=floor)
        if upper is not None:
            cond &= Q(score__lt=upper)
        aggregates[key] = Count("pk", filter=cond)
        upper = floor
    aggregates[scoring.CRITICAL_FAIL[0]] = Count("pk", filter=Q(auto_failed=True))
    return qs.aggregate(**aggregates)


def week_bounds(day: date) -> tuple[datetime, datetime]:
    monday = day - timedelta(days=day.weekday())
    start = datetime.combine(monday, datetime.min.time(), tzinfo=timezone.get_current_timezone())
    return start, start + timedelta(days=7)


def coverage(*, week_of: date, team_id: int | None = None) -> dict[str, Any]:
    """Share of agents (non-lead team members) with a review submitted in that week."""
    members = Membership.objects.filter(is_lead=False, user__is_active=True)
    if team_id:
        members = members.filter(team_id=team_id)
    agent_ids = set(members.values_list("user_id", flat=True))
    start, end = week_bounds(week_of)
    reviewed = set(Review.objects.filter(
        status__in=FINISHED_STATUSES, submitted_at__gte=start, submitted_at__lt=end,
        agent_id__in=agent_ids).values_list("agent_id", flat=True).distinct())
    n = len(agent_ids)
    return {"agents": n, "reviewed": len(reviewed), "week_start": start.date(),
            "percent": (100.0 * len(reviewed) / n) if n else None,
            "target": COVERAGE_TARGET}


def calibration_variance(*, start: datetime, end: datetime) -> dict[str, Any]:
    """Mean per-ticket standard deviation of reviewers' calibration scores (points)."""
    rows = CalibrationScore.objects.filter(
        submitted_at__isnull=False, item__session__created_at__gte=start,
        item__session__created_at__lt=end).values_list("item_id", "score")
    per_item: dict[int, list[float]] = defaultdict(list)
    for item_id, score in rows:
        per_item[item_id].append(float(score))
    deviations = [stats.stdev(v) for v in per_item.values() if len(v) >= 2]
    spreads = [stats.spread(v) for v in per_item.values() if len(v) >= 2]
    return {"tickets": len(deviations), "stdev": stats.mean(deviations),
            "spread": stats.mean(spreads), "target": CALIBRATION_VARIANCE_TARGET}


def qa_csat_correlation(qs: QuerySet[Review]) -> dict[str, Any]:
    """Pearson's r between review score and the ticket's latest CSAT rating."""
    latest = (Survey.objects.filter(ticket_id=OuterRef("ticket_id"), rating__isnull=False)
              .order_by("-resolution").values("rating")[:1])
    pairs = list(qs.annotate(rating=Subquery(latest)).filter(rating__isnull=False)
                 .values_list("score", "rating"))
    return {"n": len(pairs), "r": stats.pearson((float(s), float(r)) for s, r in pairs)}


def agent_trends(qs: QuerySet[Review]) -> list[dict[str, Any]]:
    """Per agent: reviews, average, and the improvement rate (points per week, by a
    least-squares line through the weekly averages)."""
    weekly = (qs.annotate(week=TruncWeek("submitted_at")).values("agent_id", "week")
              .annotate(avg=Avg("score"), n=Count("pk")).order_by("agent_id", "week"))
    series: dict[int, list[tuple[datetime, float, int]]] = defaultdict(list)
    for row in weekly:
        series[row["agent_id"]].append((row["week"], float(row["avg"]), row["n"]))
    users = User.objects.in_bulk(list(series))
    out = []
    for agent_id, points in series.items():
        first = points[0][0]
        n = sum(p[2] for p in points)
        out.append({
            "agent": users[agent_id], "reviews": n,
            "average": sum(p[1] * p[2] for p in points) / n,
            "first_week": points[0][1], "last_week": points[-1][1],
            "per_week": stats.slope(((p[0] - first).days / 7, p[1]) for p in points),
        })
    return sorted(out, key=lambda r: r["agent"].display_name.lower())


def by_team(qs: QuerySet[Review], dimension: str = "") -> list[dict[str, Any]]:
    rows = list(qs.values("team_id", "team__name").annotate(
        n=Count("pk"), avg=Avg("score"), fails=Count("pk", filter=Q(auto_failed=True)))
        .order_by("team__name"))
    if dimension:
        dims = {r["review__team_id"]: r for r in _dimension_rows(qs, dimension, by="team")}
        for row in rows:
            d = dims.get(row["team_id"])
            row["dimension_attainment"] = d["attainment"] if d else None
    return rows


def _dimension_rows(qs: QuerySet[Review], dimension: str = "", *, by: str = "") -> list[dict]:
    from .models import ReviewScore

    scores = ReviewScore.objects.filter(review__in=qs, level__isnull=False,
                                        not_applicable=False, review__auto_failed=False)
    if dimension:
        scores = scores.filter(dimension__name=dimension)
    keys = ["dimension__name"] + (["review__team_id"] if by == "team" else [])
    rows = list(scores.values(*keys).annotate(
        n=Count("pk"), avg_points=Avg("level__points"), weight=Max("dimension__weight"),
        order=Max("dimension__order")).order_by("order", "dimension__name"))
    for row in rows:
        row["attainment"] = (100.0 * float(row["avg_points"]) / row["weight"]
                             if row["weight"] else None)
    return rows


def by_dimension(qs: QuerySet[Review], dimension: str = "") -> list[dict[str, Any]]:
    """Average points and attainment (% of the weight) per dimension (auto-fails left
    out: their levels do not decide their score)."""
    return _dimension_rows(qs, dimension)


def dashboard(filters: DashboardFilters, *, today: date | None = None) -> dict[str, Any]:
    qs = finished_reviews(filters)
    totals = qs.aggregate(n=Count("pk"), avg=Avg("score"),
                          fails=Count("pk", filter=Q(auto_failed=True)))
    n = totals["n"]
    bands = _band_counts(qs)
    today = today or timezone.localdate()
    return {
        "reviews": n,
        "average": totals["avg"],
        "bands": [{"key": k, "label": scoring.BAND_LABELS[k], "n": bands[k],
                   "percent": 100.0 * bands[k] / n if n else None}
                  for k in scoring.BAND_KEYS],
        "critical_fails": totals["fails"],
        "critical_fail_rate": 100.0 * totals["fails"] / n if n else None,
        "critical_fail_target": CRITICAL_FAIL_TARGET,
        "coverage": coverage(week_of=today, team_id=filters.team_id),
        "calibration": calibration_variance(start=filters.start, end=filters.end),
        "correlation": qa_csat_correlation(qs),
        "trends": agent_trends(qs),
        "teams": by_team(qs, filters.dimension),
        "dimensions": by_dimension(qs, filters.dimension),
    }


def dimension_names() -> list[str]:
    from .models import Dimension

    return list(Dimension.objects.order_by("name").values_list("name", flat=True).distinct())


def score_or_none(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None

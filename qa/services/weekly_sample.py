"""The weekly sample: which tickets each reviewer reviews."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import ngettext

from helpdesk.models import Membership, User
from helpdesk.notifications import in_language_of, notify
from helpdesk.roles import Role
from tickets.models import Survey, Ticket

from .. import sampling
from ..models import (
    PENDING_STATUSES,
    QAFlag,
    Review,
    ReviewEvent,
    SampleRun,
    Scorecard,
)
from ._common import DONE_STATUSES, LOW_CSAT_MAX, SLA_BREACH_LEVELS, _now
from .scorecards import current_scorecard

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
        with in_language_of(users[reviewer_id]):
            title = ngettext("%(num)d ticket to review for week %(week)s",
                             "%(num)d tickets to review for week %(week)s", n) % {
                "num": n, "week": f"{week_start:%G-W%V}"}
        notify(users[reviewer_id], title=title,
               source="qa.sample", url=reverse("qa:queue", args=["mine"]),
               dedupe_key=f"qa.sample.{week_start.isoformat()}.{reviewer_id}")

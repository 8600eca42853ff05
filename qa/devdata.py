"""QA's generated history (see helpdesk/generators.py).

- Every week of the period, a sample of each agent's resolved tickets (`qa.sampling`
  sizes by team size, drawn uniformly), reviewed on the current scorecard by the QA
  reviewer: a level per dimension, the weighted score of `qa.scoring`, the odd auto-fail;
  reviews of past weeks submitted and mostly acknowledged, a few disputed (kept or
  revised by the team lead), this week's still to do; the sample run of each week.
- A calibration session a month on three of that month's tickets: the reviewer and the
  team leads score them, the agreed score is recorded; this month's is still open.
"""
from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TextIO

from helpdesk import generators
from helpdesk.generators import Batch, Run

from . import scoring
from .demo import seed_demo
from .models import (
    AutoFailItem,
    CalibrationDimensionScore,
    CalibrationItem,
    CalibrationScore,
    CalibrationSession,
    Dispute,
    Review,
    ReviewEvent,
    ReviewScore,
    SampleRun,
    Scorecard,
)
from .sampling import sample_size

DAY = 86400.0
_dt = datetime.fromtimestamp
REVIEW_COLUMNS = (
    "id", "scorecard_id", "ticket_id", "agent_id", "reviewer_id", "team_id", "status",
    "source", "flag_reasons", "week_start", "score", "auto_failed", "summary",
    "is_ticket_of_week", "created_at", "updated_at", "submitted_at", "acknowledged_at")
SCORE_COLUMNS = ("review_id", "dimension_id", "level_id", "not_applicable", "comment")
EVENT_COLUMNS = ("review_id", "actor_id", "at", "kind", "note", "score_before", "score_after",
                 "data")
DISPUTE_COLUMNS = ("review_id", "raised_by_id", "raised_at", "reason", "resolved_by_id",
                   "resolved_at", "outcome", "resolution_note", "score_before", "score_after")
SUMMARIES = (
    "Clear, friendly reply that solved it first time.",
    "Good troubleshooting; the handoff note could say what was already tried.",
    "Right answer, but the tone was curt. Open with empathy.",
    "Missed the second question in the customer's message.",
    "Excellent: reproduced the issue and linked the help-center article.",
)
DISPUTE_REASONS = (
    "The customer asked for the short version; the tone was on purpose.",
    "The article did not exist yet when I answered.",
    "I did check the logs: it is in the internal note.",
)


@dataclass
class _Card:
    id: int
    # (dimension id, weight, [(level id, points)] ascending)
    dimensions: list[tuple[int, int, list[tuple[int, int]]]]
    auto_fail: list[int]


@dataclass
class _State:
    card: _Card | None
    # (week monday, agent) -> [(seen, [(ticket, team, resolved)])] reservoir
    picks: dict[tuple[date, int], list] = field(default_factory=dict)
    seen: dict[tuple[date, int], int] = field(default_factory=lambda: defaultdict(int))
    # month -> a few resolved tickets for calibration
    months: dict[tuple[int, int], list[tuple[int, float]]] = field(
        default_factory=lambda: defaultdict(list))
    team_size: dict[int, int] = field(default_factory=dict)


def prepare(run: Run) -> None:
    card = Scorecard.objects.using(run.using).filter(is_current=True).order_by("pk").first()
    data = None
    if card is not None:
        dims = []
        for dim in card.dimensions.order_by("order", "pk").prefetch_related("levels"):
            levels = sorted((lv.pk, lv.points) for lv in dim.levels.all())
            dims.append((dim.pk, dim.weight, sorted(levels, key=lambda x: x[1])))
        data = _Card(card.pk, dims, list(AutoFailItem.objects.using(run.using).filter(
            scorecard=card).values_list("pk", flat=True)))
    run.state["qa"] = _State(card=data, team_size={
        team: len(agents) for team, agents in run.team_agents.items()})


def tickets(run: Run, batch: Batch) -> None:
    state: _State = run.state["qa"]
    if state.card is None:
        return
    rng = run.rng("qa")
    for h in batch.tickets:
        agent = h.assignee_id or (h.agents[-1] if h.agents else None)
        if h.resolved is None or agent is None:
            continue
        day = date.fromtimestamp(h.resolved)
        monday = day - timedelta(days=day.weekday())
        key = (monday, agent)
        k = sample_size(max(1, state.team_size.get(h.team_id, 1)))
        state.seen[key] += 1
        picks = state.picks.setdefault(key, [])
        item = (h.id, h.team_id, h.resolved)
        if len(picks) < k:  # reservoir sampling: a uniform draw of k per agent and week
            picks.append(item)
        else:
            j = rng.randrange(state.seen[key])
            if j < k:
                picks[j] = item
        month = state.months[(day.year, day.month)]
        if len(month) < 3 and rng.random() < 0.05:
            month.append((h.id, h.resolved))


def _score(rng: random.Random, card: _Card, skill: float, spread: float = 0.15,
           ) -> tuple[list[tuple], Decimal, bool]:
    """Levels per dimension for an agent of this skill (0..1 of the top level, `spread`
    from one dimension to the next); the score `qa.scoring` gives."""
    picks, dims = [], []
    for dim_id, weight, levels in card.dimensions:
        if not levels:
            continue
        share = min(1.0, max(0.0, rng.gauss(skill, spread)))
        x = round(share * (len(levels) - 1))
        level_id, points = levels[int(x)]
        picks.append((dim_id, level_id))
        dims.append(scoring.DimensionScore(weight=weight, points=points))
    auto_failed = bool(card.auto_fail) and rng.random() < 0.015
    result = scoring.compute(dims, auto_fail=auto_failed)
    return picks, result.score or Decimal(0), auto_failed


def finish(run: Run) -> None:
    state: _State = run.state["qa"]
    card = state.card
    if card is None:
        return
    rng = run.rng("qa")
    reviewer = (run.staff.get("QA reviewer") or run.staff.get("lead") or [None])[0]
    leads = {team: agents[0][0] for team, agents in run.team_agents.items() if agents}
    skill: dict[int, float] = {}
    this_week = date.fromtimestamp(run.now) - timedelta(days=date.fromtimestamp(
        run.now).weekday())
    picks = sorted((week, agent, item) for (week, agent), items in state.picks.items()
                   for item in items)
    first = run.next_ids(Review, len(picks))
    reviews, scores, events, disputes = [], [], [], []
    weeks: dict[date, int] = defaultdict(int)
    for offset, (week, agent, (ticket_id, team_id, resolved)) in enumerate(picks):
        rid = first + offset
        # Last week's sample is reviewed during this week; this week's is still to do.
        sampled = max(resolved, datetime.combine(week + timedelta(days=7), datetime.min.time(),
                                                 tzinfo=UTC).timestamp() + 8 * 3600)
        weeks[week] += 1
        if week >= this_week - timedelta(days=7) and sampled >= run.now - 2 * DAY:
            status = "assigned"
            created = min(sampled, run.now - 3600)
            reviews.append((rid, card.id, ticket_id, agent, reviewer, team_id, status,
                            "sample", "", week, None, False, "", False, _dt(created, UTC),
                            _dt(created, UTC), None, None))
            events.append((rid, None, _dt(created, UTC), "created", "weekly sample", None,
                           None, "{}"))
            continue
        created = min(sampled, run.now - 3 * 3600)
        level = skill.setdefault(agent, min(0.97, max(0.6, rng.gauss(0.86, 0.07))))
        chosen, score, auto_failed = _score(rng, card, level)
        submitted = min(created + 3600 * (1 + 48 * rng.random()), run.now - 3600)
        acknowledged = None
        status = "submitted"
        roll = rng.random()
        disputed = roll < 0.04 and score < 85
        if not disputed and roll < 0.8:
            acknowledged = submitted + 3600 * (2 + 40 * rng.random())
            if acknowledged < run.now:
                status = "acknowledged"
            else:
                acknowledged = None
        reviews.append((rid, card.id, ticket_id, agent, reviewer, team_id, status, "sample",
                        "", week, score, auto_failed, rng.choice(SUMMARIES),
                        rng.random() < 0.01, _dt(created, UTC), _dt(submitted, UTC),
                        _dt(submitted, UTC), _dt(acknowledged, UTC) if acknowledged else None))
        scores.extend((rid, dim, lv, False, "") for dim, lv in chosen)
        events.append((rid, None, _dt(created, UTC), "created", "weekly sample", None, None,
                       "{}"))
        events.append((rid, reviewer, _dt(submitted, UTC), "submitted", "", None, score,
                       "{}"))
        if acknowledged:
            events.append((rid, agent, _dt(acknowledged, UTC), "acknowledged", "", None,
                           None, "{}"))
        if disputed:
            raised = submitted + 3600 * (1 + 20 * rng.random())
            lead = leads.get(team_id)
            resolved_at = raised + 3600 * (4 + 40 * rng.random())
            done = resolved_at < run.now and lead is not None
            revised = done and rng.random() < 0.4
            after = min(Decimal(100), score + Decimal(8)) if revised else score
            status = ("resolved" if done else "disputed")
            reviews[-1] = reviews[-1][:6] + (status,) + reviews[-1][7:10] + (after,) + \
                reviews[-1][11:]
            disputes.append((rid, agent, _dt(raised, UTC), rng.choice(DISPUTE_REASONS),
                             lead if done else None, _dt(resolved_at, UTC) if done else None,
                             ("revised" if revised else "kept") if done else "",
                             "Checked with the agent." if done else "",
                             score if done else None, after if done else None))
            events.append((rid, agent, _dt(raised, UTC), "disputed", "", None, None, "{}"))
            if done:
                events.append((rid, lead, _dt(resolved_at, UTC),
                               "revised" if revised else "kept", "", score, after,
                               json.dumps({"outcome": "revised" if revised else "kept"})))
    run.write(Review, REVIEW_COLUMNS, reviews)
    run.write(ReviewScore, SCORE_COLUMNS, scores)
    run.write(ReviewEvent, EVENT_COLUMNS, events)
    run.write(Dispute, DISPUTE_COLUMNS, disputes)
    have = set(SampleRun.objects.using(run.using).filter(scorecard_id=card.id)
               .values_list("week_start", flat=True))
    run.write(SampleRun, ("scorecard_id", "week_start", "started_at", "reviews_created"), [
        (card.id, week, datetime.combine(week + timedelta(days=7), datetime.min.time(),
                                         tzinfo=UTC) + timedelta(hours=6), n)
        for week, n in sorted(weeks.items()) if week not in have])
    _calibrations(run, rng, card, state, reviewer, sorted(set(leads.values())))
    run.log(f"  qa: {len(reviews):,} reviews over {len(weeks)} weeks, "
            f"{len(disputes)} disputes")


def _calibrations(run: Run, rng: random.Random, card: _Card, state: _State,
                  facilitator: int | None, leads: list[int]) -> None:
    if facilitator is None:
        return
    participants = [facilitator, *leads[:3]]
    now_month = date.fromtimestamp(run.now)
    for (year, month), items in sorted(state.months.items()):
        if not items:
            continue
        current = (year, month) == (now_month.year, now_month.month)
        created = datetime(year, month, 1, 10, tzinfo=UTC) + timedelta(days=27)
        created = min(created, _dt(run.now - 2 * DAY, UTC))
        session = CalibrationSession.objects.using(run.using).create(
            title=f"Calibration {created:%B %Y}", scorecard_id=card.id,
            facilitator_id=facilitator, status="open" if current else "closed",
            notes="" if current else "Agreed on how to score tone for short answers.",
            created_at=created, closed_at=None if current else created + timedelta(hours=2))
        session.participants.set(participants)
        for order, (ticket_id, _resolved) in enumerate(items):
            agreed = None
            item = CalibrationItem.objects.using(run.using).create(
                session=session, ticket_id=ticket_id, order=order)
            for person in participants:
                chosen, score, auto_failed = _score(rng, card, 0.85, 0.06)
                given = CalibrationScore.objects.using(run.using).create(
                    item=item, reviewer_id=person, score=score, auto_failed=auto_failed,
                    submitted_at=created + timedelta(minutes=20 + order * 10))
                CalibrationDimensionScore.objects.using(run.using).bulk_create([
                    CalibrationDimensionScore(score=given, dimension_id=dim, level_id=lv)
                    for dim, lv in chosen])
                agreed = score if agreed is None else (agreed + score) / 2
            if not current:
                item.agreed_score = Decimal(agreed).quantize(Decimal("0.01"))
                item.agreed_at = created + timedelta(hours=1, minutes=30)
                item.agreed_notes = "Agreed after discussing the tone dimension."
                item.save(update_fields=["agreed_score", "agreed_at", "agreed_notes"])


def demo(stdout: TextIO) -> None:
    seed_demo(stdout)


generators.register(generators.Generator("qa", order=40, prepare=prepare, tickets=tickets,
                                         finish=finish, demo=demo))

"""Generated history of the tickets app's own side tables: satisfaction surveys and
tracked time (see helpdesk/generators.py). `tickets` knows nothing of generators, so the
devdata app contributes these two itself.

- Surveys: one per resolution, scheduled two hours after it (`tickets.surveys`), sent
  unless the ticket was reopened first or the requester was surveyed in the last 30 days;
  about a quarter answered, with scores skewed the way CSAT is (mostly 5s, a tail of 1s,
  worse after a reopen or a long wait), an NPS answer for most, a comment for some, and a
  follow-up for the team lead on every 1 or 2, mostly handled within the day.
- Time entries: one per agent reply or note, ending when it was written, its minutes
  drawn from the ticket category's own handle-time distribution (longer in L2 and L3),
  plus investigation time on escalated tickets.
"""
from __future__ import annotations

import math
from datetime import UTC, datetime

from helpdesk import generators
from helpdesk.generators import Batch, Run, TicketHistory
from tickets.models import FollowUp, Survey, TimeEntry
from tickets.surveys import FOLLOW_UP_WITHIN, cooldown_days, link_days, survey_delay

HOUR = 3600.0
DAY = 86400.0
_dt = datetime.fromtimestamp

SURVEY_COLUMNS = (
    "id", "ticket_id", "resolution", "requester_id", "agent_id", "team_id", "status",
    "skip_reason", "scheduled_for", "sent_at", "expires_at", "rating", "nps", "comment",
    "responded_at",
)
FOLLOW_UP_COLUMNS = ("survey_id", "ticket_id", "owner_id", "due_at", "handled_at",
                     "handled_by_id", "outcome", "reminded_at")
TIME_COLUMNS = ("ticket_id", "agent_id", "message_id", "started_at", "ended_at", "minutes",
                "note")

RESPONSE_SHARE = 0.25
# Rating 1..5 weights: what CSAT looks like (about 80-85 % satisfied), then worse after
# a reopen or a long resolution.
RATINGS = (6, 4, 8, 20, 62)
RATINGS_UNHAPPY = (16, 10, 14, 24, 36)
COMMENTS = {
    5: ("Quick and friendly, thank you!", "Solved in one reply, great.",
        "Very clear explanation.", "Thanks for the fast help."),
    4: ("Good, though it took a while.", "Helpful, the article link was useful.",
        "Fine, solved in the end."),
    3: ("It works now but I had to explain it twice.", "OK, slower than I expected."),
    2: ("Took days to get a real answer.", "I had to chase this several times."),
    1: ("Nobody read my first message.", "Still broken, and the ticket was closed anyway.",
        "Three different agents, three different answers."),
}
OUTCOMES = (
    "Called the customer, apologised for the delay and explained the fix.",
    "Coached the agent on reading the whole thread before replying.",
    "The problem came back: reopened and escalated to L2.",
    "Customer was unhappy with the product limitation, not the support; logged feedback.",
)
# Handle minutes (median) of one agent reply, by category; notes take less.
REPLY_MINUTES = {
    "login": 7, "api-errors": 18, "billing": 8, "integrations": 20, "performance": 22,
    "data": 15, "security": 14, "feature-request": 6, "how-to": 5,
}
NOTE_MINUTES = 4
TIER_FACTOR = {"l1-general": 1.0, "l2-technical": 1.6, "l2-enterprise": 1.7,
               "l3-specialty": 2.2}


class _Surveys:
    def __init__(self) -> None:
        self.last_sent: dict[int, float] = {}  # requester -> last survey sent


def _unhappy(h: TicketHistory) -> bool:
    long = (h.resolved or h.created) - h.created > (1 if h.priority <= 2 else 5) * DAY
    return h.reopened or long or len(h.teams) > 2


def surveys(run: Run, batch: Batch) -> None:
    state: _Surveys = run.state.setdefault("surveys", _Surveys())
    rng = run.rng("surveys")
    delay = survey_delay().total_seconds()
    cooldown = cooldown_days() * DAY
    link = link_days() * DAY
    due_within = FOLLOW_UP_WITHIN.total_seconds()
    now = run.now
    resolved = [h for h in batch.tickets if h.resolved is not None]
    first = run.next_ids(Survey, sum(2 if h.first_resolved else 1 for h in resolved))
    rows, follow_ups = [], []
    sid = first
    leads = {team: agents[0][0] for team, agents in run.team_agents.items() if agents}
    for h in sorted(resolved, key=lambda t: t.resolved or 0.0):
        resolutions = [(0, h.first_resolved), (1, h.resolved)] if h.first_resolved else [
            (0, h.resolved)]
        for index, (number, at) in enumerate(resolutions):
            scheduled = at + delay
            last = index == len(resolutions) - 1
            status, skip, sent = "scheduled", "", None
            if scheduled <= now:
                reopened_first = not last and resolutions[index + 1][1] is not None and (
                    _reopen_time(h) <= scheduled)
                if reopened_first:
                    status, skip = "skipped", "The ticket was reopened after this resolution."
                elif scheduled - state.last_sent.get(h.requester_id, -math.inf) < cooldown:
                    status = "skipped"
                    skip = f"The requester was surveyed in the last {cooldown_days()} days."
                else:
                    status, sent = "sent", scheduled + 60 * rng.random()
                    state.last_sent[h.requester_id] = sent
            rating = nps = responded = None
            comment = ""
            if sent is not None and rng.random() < RESPONSE_SHARE:
                responded = sent + HOUR * rng.lognormvariate(1.0, 1.2)
                if responded < min(now, sent + link):
                    weights = RATINGS_UNHAPPY if _unhappy(h) else RATINGS
                    rating = rng.choices((1, 2, 3, 4, 5), weights=weights)[0]
                    if rng.random() < 0.7:
                        nps = max(0, min(10, round(rng.gauss(2.2 * rating - 1.0, 1.3))))
                    if rng.random() < 0.3 or rating <= 2 and rng.random() < 0.6:
                        comment = rng.choice(COMMENTS[rating])
                    status = "responded"
                else:
                    responded = None
            rows.append((
                sid, h.id, number, h.requester_id, h.assignee_id, h.team_id, status, skip,
                _dt(scheduled, UTC), _dt(sent, UTC) if sent else None,
                _dt(sent + link, UTC) if sent else None, rating, nps, comment,
                _dt(responded, UTC) if responded else None))
            if rating is not None and rating <= 2:
                due = responded + due_within
                owner = leads.get(h.team_id)
                handled = responded + HOUR * rng.lognormvariate(1.5, 0.9)
                done = handled < now and rng.random() < 0.9
                reminded = due + 600 if not done and due < now else None
                follow_ups.append((
                    sid, h.id, owner, _dt(due, UTC), _dt(handled, UTC) if done else None,
                    owner if done else None, rng.choice(OUTCOMES) if done else "",
                    _dt(reminded, UTC) if reminded else None))
            sid += 1
    batch.add(Survey, SURVEY_COLUMNS, rows)
    batch.add(FollowUp, FOLLOW_UP_COLUMNS, follow_ups)


def _reopen_time(h: TicketHistory) -> float:
    """When the customer reopened it: their first message after the first resolution."""
    first = h.first_resolved or 0.0
    return next((m[1] for m in h.messages if m[1] > first and m[3] == "customer"),
                h.resolved or first)


def time_entries(run: Run, batch: Batch) -> None:
    rng = run.rng("timetracking")
    rows = []
    for h in batch.tickets:
        median = REPLY_MINUTES.get(h.category, 10)
        final_team = run.team_slugs.get(h.team_id, "l1-general")
        for message_id, at, author, role in h.messages:
            if role == "customer":
                continue
            # Replies after the handover are written by the team it went to.
            factor = TIER_FACTOR.get(final_team, 1.0) if author != (
                h.agents[0] if h.agents else None) else 1.0
            base = NOTE_MINUTES if role == "note" else median * factor
            minutes = max(1, min(240, round(base * rng.lognormvariate(0, 0.6))))
            rows.append((h.id, author, message_id, _dt(at - 60 * minutes, UTC), _dt(at, UTC),
                         minutes, ""))
        for at, _, to_team in h.escalations:
            agents = run.team_agents.get(to_team or h.team_id) or ()
            if not agents:
                continue
            agent = h.assignee_id if h.assignee_id in {a for a, _ in agents} else (
                rng.choice(agents)[0])
            minutes = max(5, round(35 * rng.lognormvariate(0, 0.7)))
            start = at + HOUR * rng.random()
            if start + 60 * minutes < run.now:
                rows.append((h.id, agent, None, _dt(start, UTC),
                             _dt(start + 60 * minutes, UTC), minutes, "Investigation"))
    batch.add(TimeEntry, TIME_COLUMNS, rows)


generators.register(generators.Generator("surveys", order=30, tickets=surveys))
generators.register(generators.Generator("timetracking", order=31, tickets=time_entries))

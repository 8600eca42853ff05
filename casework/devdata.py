"""Technical casework over the generated period (see helpdesk/generators.py).

- An investigation on every ticket escalated to L2 or beyond, opened at the handoff, with
  its evidence (logs, reproductions, screenshots) collected by the team it went to, and
  the decision its history shows (resolved there, escalated on, or still open).
- Playbook runs: the playbooks of the escalated tickets' categories started on a share of
  them, their steps checked off as the investigation went.
- Product feedback: feature requests and bugs, each item mentioned by the tickets that
  asked for it, with the customer's words.
- At-risk alerts: a business or enterprise customer with three or more escalated or
  reopened tickets in one week raises an alert that week, for its CSM; the worst of them
  only, about 2 % of the week's L2+ tickets (a CSM team reads them all; at a million
  tickets, every busy account crosses three escalations in some week).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TextIO

from helpdesk import generators
from helpdesk.generators import Batch, Run
from helpdesk.models import Organization
from tickets.models import Category

from . import rollup
from .demo import seed_demo
from .models import (
    AtRiskAlert,
    CaseworkHour,
    Evidence,
    FeedbackItem,
    FeedbackMention,
    Investigation,
    Playbook,
    PlaybookRun,
    PlaybookStep,
    StepCheck,
)

HOUR = 3600.0
# At-risk alerts a week, as a share of the tickets escalated to L2+ that week.
ALERT_SHARE = 0.02
_dt = datetime.fromtimestamp
INVESTIGATION_COLUMNS = (
    "id", "ticket_id", "goal", "actual", "environment", "version", "hypothesis", "next_step",
    "decision", "assigned_at", "first_evidence_at", "first_evidence_seconds", "created_at",
    "updated_at", "updated_by_id")
EVIDENCE_COLUMNS = ("investigation_id", "kind", "summary", "link", "added_by_id",
                    "created_at", "verified", "verified_at", "verified_by_id")
RUN_COLUMNS = ("id", "ticket_id", "playbook_id", "started_by_id", "started_at")
CHECK_COLUMNS = ("run_id", "step_id", "checked_by_id", "checked_at")
MENTION_COLUMNS = ("item_id", "ticket_id", "organization_id", "quote", "use_case",
                   "added_by_id", "created_at")
EVIDENCE = (
    ("log", "Server log around the failure shows the upstream timeout."),
    ("reproduction", "Reproduced with the customer's payload on staging."),
    ("screenshot", "Screenshot of the error the customer sees."),
    ("config", "Customer's integration settings exported."),
    ("query", "Query of the affected records in the last 24 hours."),
)
HYPOTHESES = (
    "A proxy between us and the customer closes idle connections.",
    "The customer's identity provider sends an expired certificate.",
    "A recent release changed the default page size.",
    "The data was imported with the wrong time zone.",
)
FEEDBACK = (
    ("feature", "Per-team dashboards"), ("feature", "Bulk edit of custom fields"),
    ("feature", "SAML just-in-time provisioning"), ("feature", "Export to Parquet"),
    ("feature", "Dark mode"), ("bug", "CSV export drops the last row"),
    ("bug", "Webhook retries ignore the backoff"), ("ux", "Settings page is hard to find"),
    ("docs", "API pagination is not documented"), ("praise", "Fast support replies"),
)
PLAYBOOKS = {
    "api-errors": ("API errors and timeouts", ("Collect request ids", "Check the status page",
                                               "Replay a failing request")),
    "integrations": ("Integration sync problems", ("Check the connector logs",
                                                   "Compare field mappings",
                                                   "Re-run the sync")),
    "performance": ("Slow pages and reports", ("Capture a HAR file", "Check the query plan",
                                               "Compare with another account")),
}


@dataclass
class _State:
    playbooks: dict[str, tuple[int, list[int]]] = field(default_factory=dict)
    feedback: dict[str, list[int]] = field(default_factory=dict)  # kind -> item ids
    # (organization, ISO week) -> (signals, a ticket)
    risk: dict[tuple[int, str], list] = field(default_factory=dict)
    escalated: dict[str, int] = field(default_factory=dict)  # ISO week -> L2+ tickets


def prepare(run: Run) -> None:
    rng = run.rng("casework")
    state = _State()
    categories = dict(Category.objects.using(run.using).values_list("slug", "pk"))
    lead = (run.staff.get("lead") or [None])[0]
    for slug, (name, steps) in PLAYBOOKS.items():
        playbook = Playbook.objects.using(run.using).filter(name=name).first()
        if playbook is None:
            playbook = Playbook.objects.using(run.using).create(
                name=name, description=f"First steps for {name.lower()}.", created_by_id=lead,
                created_at=_dt(run.start, UTC))
            if slug in categories:
                playbook.categories.add(categories[slug])
            PlaybookStep.objects.using(run.using).bulk_create([
                PlaybookStep(playbook=playbook, order=i + 1, title=title)
                for i, title in enumerate(steps)])
        state.playbooks[slug] = (playbook.pk, list(playbook.steps.order_by("order")
                                                   .values_list("pk", flat=True)))
    for kind, title in FEEDBACK:
        item, _ = FeedbackItem.objects.using(run.using).get_or_create(
            key=f"{kind}:{title.lower()}",
            defaults={"kind": kind, "title": title,
                      "created_at": _dt(run.start + rng.random() * 86400 * 20, UTC)})
        state.feedback.setdefault(kind, []).append(item.pk)
    run.state["casework"] = state


def _week(at: float) -> str:
    year, week, _ = date.fromtimestamp(at).isocalendar()
    return f"{year}-W{week:02d}"


def tickets(run: Run, batch: Batch) -> None:
    state: _State = run.state["casework"]
    rng = run.rng("casework")
    escalated = [h for h in batch.tickets if len(h.teams) > 1 and h.escalations]
    first = run.next_ids(Investigation, len(escalated))
    first_run = run.next_ids(PlaybookRun, len(escalated))
    investigations, evidence, runs, checks, mentions = [], [], [], [], []
    for offset, h in enumerate(escalated):
        iid = first + offset
        handoff = h.escalations[0][0]
        if handoff > run.now:
            continue
        team_agents = run.team_agents.get(h.teams[1]) or []
        owner = h.assignee_id or (team_agents[0][0] if team_agents else None)
        decision = ("resolve" if h.resolved is not None and len(h.teams) == 2 else
                    "escalate" if len(h.teams) > 2 else "investigating")
        evidence_at = min(run.now - 60, handoff + HOUR * rng.lognormvariate(0.3, 0.8))
        updated = min(run.now - 60, h.resolved or evidence_at + HOUR)
        investigations.append((
            iid, h.id, "Use the product as documented.", h.subject, "Production",
            f"2026.{rng.randint(1, 12)}", rng.choice(HYPOTHESES),
            "Confirm with the customer." if h.resolved is None else "",
            decision, _dt(handoff, UTC), _dt(evidence_at, UTC), int(evidence_at - handoff),
            _dt(handoff, UTC), _dt(max(updated, handoff), UTC), owner))
        at = evidence_at
        for _ in range(rng.choice((1, 1, 2, 3))):
            kind, summary = rng.choice(EVIDENCE)
            verified = rng.random() < 0.5 and at + HOUR < run.now
            evidence.append((iid, kind, summary, "", owner, _dt(at, UTC), verified,
                             _dt(at + HOUR, UTC) if verified else None,
                             owner if verified else None))
            at = min(run.now - 60, at + HOUR * rng.random() * 4)
        playbook = state.playbooks.get(h.category)
        if playbook and rng.random() < 0.4:
            run_id = first_run + offset
            runs.append((run_id, h.id, playbook[0], owner, _dt(handoff + 300, UTC)))
            for i, step in enumerate(playbook[1]):
                when = handoff + 600 + i * 1800
                if when < (h.resolved or run.now):
                    checks.append((run_id, step, owner, _dt(when, UTC)))
    for h in batch.tickets:
        if h.category == "feature-request" or (h.category == "data" and rng.random() < 0.2):
            kind = "feature" if h.category == "feature-request" else "bug"
            item = rng.choice(state.feedback.get(kind) or [None])
            if item is not None:
                agent = h.agents[0] if h.agents else None
                mentions.append((item, h.id, h.organization_id, h.subject[:500], "",
                                 agent, _dt(min(run.now, h.created + HOUR), UTC)))
        if len(h.teams) > 1:
            week = _week(h.created)
            state.escalated[week] = state.escalated.get(week, 0) + 1
        if h.tier in ("enterprise", "business") and (len(h.teams) > 1 or h.reopened):
            key = (h.organization_id, _week(h.created))
            entry = state.risk.setdefault(key, [0, h.id, h.created])
            entry[0] += 1
    batch.add(Investigation, INVESTIGATION_COLUMNS, investigations)
    batch.add(Evidence, EVIDENCE_COLUMNS, evidence)
    batch.add(PlaybookRun, RUN_COLUMNS, runs)
    batch.add(StepCheck, CHECK_COLUMNS, checks)
    batch.add(FeedbackMention, MENTION_COLUMNS, mentions)


def finish(run: Run) -> None:
    state: _State = run.state["casework"]
    by_week: dict[str, list[tuple[tuple[int, str], list]]] = {}
    for key, value in state.risk.items():
        if value[0] >= 3:
            by_week.setdefault(key[1], []).append((key, value))
    risky = {}
    for week, candidates in by_week.items():
        keep = max(1, round(ALERT_SHARE * state.escalated.get(week, 0)))
        candidates.sort(key=lambda c: (-c[1][0], c[0][0]))  # most signals first
        risky.update(candidates[:keep])
    csm = dict(Organization.objects.using(run.using).filter(
        pk__in={org for org, _ in risky}).values_list("pk", "csm_id"))
    rows = [(org, "negative_csat" if count < 5 else "churn_mention", week, ticket,
             f"{count} escalated or reopened tickets this week", csm.get(org),
             _dt(min(run.now, created + 6 * HOUR), UTC))
            for (org, week), (count, ticket, created) in sorted(risky.items())]
    run.write(AtRiskAlert, ("organization_id", "signal", "period", "ticket_id", "detail",
                            "notified_id", "created_at"), rows)
    run.log(f"  casework: {len(rows)} at-risk alerts over {len({r[2] for r in rows})} weeks")
    # The dashboard's hourly rollup over the period, so it shows at once.
    days = max(1, math.ceil((run.now - run.start) / (24 * HOUR)) + 1)
    built = rollup.rebuild(days, now=datetime.fromtimestamp(run.now, UTC))
    run.count(CaseworkHour._meta.db_table, built)
    run.log(f"  casework: dashboard rollup of {days} days, {built:,} rows")


def demo(stdout: TextIO) -> None:
    seed_demo(stdout)


generators.register(generators.Generator("casework", order=70, prepare=prepare,
                                         tickets=tickets, finish=finish, demo=demo))

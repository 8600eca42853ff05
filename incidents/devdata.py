"""Incidents over the generated period (see helpdesk/generators.py): about one a week.

Each one declared on a weekday, with its roles, a war-room timeline (status changes,
decisions, public updates), public updates on the status page at the severity's cadence,
and, for the tickets customers filed about it while it lasted (API errors, performance
and integration problems at that time), the links the war room made. Resolved ones have
their post-incident review where the severity asks for one; the latest may still be open.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TextIO

from helpdesk import generators
from helpdesk.generators import Batch, Run

from .demo import seed_demo
from .models import (
    Incident,
    IncidentRole,
    IncidentTicket,
    PublicUpdate,
    Review,
    Severity,
    TimelineEntry,
)

HOUR = 3600.0
DAY = 86400.0
_dt = datetime.fromtimestamp
CATEGORIES = frozenset({"api-errors", "performance", "integrations"})
STORIES = (
    ("API returns 503 errors in the EU region", "api 503 eu", "major"),
    ("Webhook deliveries delayed", "webhook delayed", "minor"),
    ("Dashboards load slowly", "slow dashboard", "minor"),
    ("Login failures for SSO customers", "sso login", "major"),
    ("CSV exports fail", "export csv", "minor"),
    ("Search unavailable", "search down", "complete"),
    ("Salesforce sync stalled", "salesforce sync", "minor"),
)
LINK_COLUMNS = ("incident_id", "ticket_id", "linked_by_id", "linked_at", "sla_breached",
                "cascade_outcome", "cascade_note", "cascaded_at")


@dataclass
class _State:
    # (incident id, declared, resolved or None, commander)
    windows: list[tuple[int, float, float | None, int | None]] = field(default_factory=list)
    links: dict[int, int] = field(default_factory=dict)


def prepare(run: Run) -> None:
    rng = run.rng("incidents")
    severities = list(Severity.objects.using(run.using).order_by("level"))
    if not severities:
        run.state["incidents"] = _State()
        return
    staff = [a for agents in run.team_agents.values() for a, _ in agents]
    leads = run.staff.get("lead") or staff
    manager = (run.staff.get("manager") or leads)[0]
    state = _State()
    t = run.start + rng.random() * 7 * DAY
    while t < run.now - 2 * HOUR:
        day = _dt(t, UTC)
        if day.weekday() >= 5:
            t += DAY
            continue
        title, keywords, impact = rng.choice(STORIES)
        severity = severities[min(len(severities) - 1,
                                  {"complete": 0, "major": 1, "minor": 2}[impact]
                                  + (1 if rng.random() < 0.3 else 0))]
        declared = t
        duration = HOUR * (0.5 + rng.lognormvariate(0.7, 0.6))
        resolved = declared + duration if declared + duration < run.now - HOUR else None
        commander = rng.choice(leads)
        incident = Incident.objects.using(run.using).create(
            title=title, description=f"{title}. Customers report errors; see the timeline.",
            keywords=keywords, users_affected="multiple" if impact != "complete" else "all",
            impact=impact, suggested_level=severity.level, severity=severity,
            status="resolved" if resolved else "monitoring", is_public=True,
            declared_by_id=commander, declared_at=_dt(declared, UTC),
            resolved_at=_dt(resolved, UTC) if resolved else None)
        roles = [IncidentRole(incident=incident, role="commander", user_id=commander,
                              assigned_at=_dt(declared, UTC))]
        tech = rng.choice(staff)
        if tech != commander:
            roles.append(IncidentRole(incident=incident, role="tech_lead", user_id=tech,
                                      assigned_at=_dt(declared + 300, UTC)))
        IncidentRole.objects.using(run.using).bulk_create(roles)
        steps = [(0, "status", "Declared: investigating", "investigating"),
                 (0.2, "decision", "Rolled back the last deploy of the affected service.",
                  None),
                 (0.4, "status", "Cause identified", "identified"),
                 (0.7, "status", "Fix deployed, monitoring", "monitoring")]
        if resolved:
            steps.append((1.0, "status", "Resolved", "resolved"))
        timeline, updates = [], []
        for share, kind, body, status in steps:
            at = _dt(declared + share * duration, UTC)
            if at.timestamp() > run.now:
                break
            timeline.append(TimelineEntry(incident=incident, kind=kind, body=body,
                                          author_id=commander, created_at=at))
            if status:
                update_kind = ("initial" if status == "investigating" else
                               "resolution" if status == "resolved" else "update")
                updates.append(PublicUpdate(
                    incident=incident, kind=update_kind, status=status,
                    body=f"{title}: {body.lower()}.", created_by_id=commander, created_at=at,
                    fanout_completed_at=at + timedelta(minutes=2)))
                timeline.append(TimelineEntry(incident=incident, kind="update",
                                              body=f"Public update: {body}",
                                              author_id=commander, created_at=at))
        TimelineEntry.objects.using(run.using).bulk_create(timeline)
        PublicUpdate.objects.using(run.using).bulk_create(updates)
        if resolved and severity.review_required:
            done = resolved + 3 * DAY < run.now
            Review.objects.using(run.using).create(
                incident=incident, summary=f"{title} for {duration / HOUR:.1f} hours.",
                root_cause="A configuration change reached production without a canary."
                if done else "", went_well="Fast detection by the on-call engineer.",
                to_improve="Status page update came late." if done else "",
                author_id=manager, created_at=_dt(resolved + 3600, UTC),
                updated_at=_dt(min(run.now, resolved + 2 * DAY), UTC),
                completed_at=_dt(resolved + 3 * DAY, UTC) if done else None)
        state.windows.append((incident.pk, declared, resolved, commander))
        t += DAY * (5 + 4 * rng.random())  # about one a week
    run.count(Incident._meta.db_table, len(state.windows))
    run.state["incidents"] = state
    run.log(f"  incidents: {len(state.windows)} incidents")


def tickets(run: Run, batch: Batch) -> None:
    state: _State = run.state["incidents"]
    if not state.windows:
        return
    rng = run.rng("incidents")
    rows = []
    for h in batch.tickets:
        if h.category not in CATEGORIES:
            continue
        for incident_id, declared, resolved, commander in state.windows:
            if declared <= h.created <= (resolved or run.now) and rng.random() < 0.7:
                if state.links.get(incident_id, 0) >= 200:
                    break
                state.links[incident_id] = state.links.get(incident_id, 0) + 1
                linked = min(run.now, h.created + 600 + 1800 * rng.random())
                cascaded = resolved is not None and h.resolved is not None
                rows.append((incident_id, h.id, commander, _dt(linked, UTC), False,
                             "moved" if cascaded else "", "", _dt(resolved, UTC)
                             if cascaded else None))
                break
    batch.add(IncidentTicket, LINK_COLUMNS, rows)


def demo(stdout: TextIO) -> None:
    seed_demo(stdout)


generators.register(generators.Generator("incidents", order=50, prepare=prepare,
                                         tickets=tickets, demo=demo))

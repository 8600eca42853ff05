"""The investigation panel of the agent ticket page (tickets above L1, or with casework)."""
from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from tickets import panels
from tickets.models import Attachment, Escalation
from tickets.services import open_escalation

from . import metrics, selectors
from .models import (
    Decision,
    EngineeringLink,
    EvidenceKind,
    FeedbackKind,
    FeedbackMention,
    Investigation,
    PlaybookRun,
    StepCheck,
)


def can_return(user: Any, escalation: Escalation | None) -> bool:
    """The receiving side returns an escalation: members of the team it went to (or
    anyone who sees every ticket); for engineering, the agents working the ticket."""
    if escalation is None:
        return False
    if escalation.kind == Escalation.Kind.ENGINEERING or user.sees_all_tickets:
        return True
    return escalation.to_team_id in user.team_ids


def panel_context(ticket: Any, request: HttpRequest, *, error: str = "",
                  force: bool = False) -> dict[str, Any] | None:
    user = request.user
    if not (user.is_authenticated and user.is_agent):
        return None
    escalation = open_escalation(ticket)
    shown = force or escalation or selectors.is_technical_team(ticket.team)
    if not shown and not Investigation.objects.filter(ticket=ticket).exists():
        return None  # most tickets: one cheap query, nothing to show
    inv = (Investigation.objects.filter(ticket=ticket).prefetch_related(
        "evidence__added_by", "evidence__attachment").first())
    runs = {r.playbook_id: r for r in PlaybookRun.objects.filter(ticket=ticket)}
    checked = set(StepCheck.objects.filter(run__ticket=ticket).values_list("step_id", flat=True))
    playbooks = list(selectors.suggested_playbooks(ticket))
    followed_ids = set(runs) - {p.pk for p in playbooks}
    if followed_ids:  # followed earlier, the ticket's category changed since
        from .models import Playbook

        playbooks += list(Playbook.objects.filter(pk__in=followed_ids).prefetch_related("steps"))
    ttfe = None
    if inv and inv.first_evidence_seconds is not None:
        ttfe = metrics.duration_text(inv.first_evidence_seconds)
    return {
        "cw_error": error,
        "investigation": inv,
        "revisions": list(inv.revisions.select_related("author")[:5]) if inv else [],
        "evidence": list(inv.evidence.all()) if inv else [],
        "ttfe_text": ttfe,
        "decisions": Decision.choices,
        "evidence_kinds": EvidenceKind.choices,
        "attachments": list(Attachment.objects.filter(message__ticket=ticket)
                            .order_by("-created_at")[:50]),
        "playbooks": [{"playbook": p, "run": runs.get(p.pk),
                       "steps": [{"step": s, "done": s.pk in checked} for s in p.steps.all()]}
                      for p in playbooks],
        "links": list(EngineeringLink.objects.filter(ticket=ticket)),
        "trackers": EngineeringLink.Tracker.choices,
        "mentions": list(FeedbackMention.objects.filter(ticket=ticket).select_related("item")),
        "feedback_kinds": FeedbackKind.choices,
        "open_escalation": escalation,
        "can_return": can_return(user, escalation),
        "can_draft_playbook": bool(inv and ticket.resolved_at),
        "has_organization": bool(ticket.organization_id),
    }


def register_all() -> None:
    panels.register(panels.Panel("casework", "casework/_panel.html", context=panel_context,
                                 order=20, area="main"))

"""Every write of technical casework, each in a transaction.

Views, the API, handlers of ticket events and Celery tasks all call these. The caller
checks that the user may see the ticket (tickets.selectors.get_ticket_for); these check
that the actor is an agent, and the invariants of the rows they write.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from helpdesk.models import Organization, User
from helpdesk.notifications import in_language_of, notify
from tickets.attachments import safe_filename
from tickets.models import Attachment, EventKind, Ticket, TicketEvent

from . import metrics, rollup, selectors
from .alert_text import detail_text
from .models import (
    EVIDENCE_MAX_BYTES,
    AtRiskAlert,
    Decision,
    EngineeringLink,
    Evidence,
    EvidenceKind,
    FeedbackItem,
    FeedbackKind,
    FeedbackMention,
    Investigation,
    InvestigationRevision,
    Playbook,
    PlaybookRun,
    PlaybookStep,
    Signal,
    StepCheck,
    VocReport,
    feedback_key,
)


def _require_agent(actor: User | None) -> None:
    if actor is not None and not actor.is_agent:
        raise PermissionDenied(_("Only agents work investigations."))


# --- investigation ----------------------------------------------------------------------------

def first_assigned_at(ticket: Ticket) -> datetime | None:
    """When the ticket was first given to an agent (the audit trail's first assignee)."""
    return (TicketEvent.objects.filter(ticket=ticket, kind=EventKind.FIELD, field="assignee")
            .exclude(after="").order_by("created_at", "id")
            .values_list("created_at", flat=True).first())


def investigation_of(ticket: Ticket, *, create: bool = False) -> Investigation | None:
    inv = Investigation.objects.filter(ticket=ticket).first()
    if inv is None and create:
        now = timezone.now()
        inv, _ = Investigation.objects.get_or_create(
            ticket=ticket, defaults={"created_at": now, "updated_at": now,
                                     "assigned_at": first_assigned_at(ticket)})
    return inv


def save_investigation(ticket: Ticket, *, actor: User, data: Mapping[str, Any]) -> Investigation:
    """Update the framing, hypothesis, next step or decision; every save that changes
    something leaves a revision with the whole investigation as it now is."""
    _require_agent(actor)
    unknown = set(data) - set(Investigation.SNAPSHOT_FIELDS)
    if unknown:
        raise ValidationError(_("Unknown investigation fields: %(unknown)s")
                              % {"unknown": sorted(unknown)})
    if "decision" in data and data["decision"] not in Decision.values:
        raise ValidationError({"decision": _("Choose a decision.")})
    with transaction.atomic():
        inv = investigation_of(ticket, create=True)
        inv = Investigation.objects.select_for_update().get(pk=inv.pk)
        changed = []
        for name, value in data.items():
            value = str(value or "").strip()
            max_length = Investigation._meta.get_field(name).max_length
            if max_length:
                value = value[:max_length]
            if getattr(inv, name) != value:
                setattr(inv, name, value)
                changed.append(name)
        if not changed:
            return inv
        now = timezone.now()
        inv.updated_at = now
        inv.updated_by = actor
        inv.save()
        InvestigationRevision.objects.create(investigation=inv, author=actor, created_at=now,
                                             data=inv.snapshot(), changed=changed)
    return inv


def _stamp_first_evidence(inv: Investigation, at: datetime) -> None:
    """Keep the earliest verified evidence time, and the time to it from assignment."""
    if inv.assigned_at is None:
        inv.assigned_at = first_assigned_at(inv.ticket)
    if inv.first_evidence_at is not None and inv.first_evidence_at <= at:
        return
    inv.first_evidence_at = at
    ttfe = metrics.time_to_first_evidence(inv.assigned_at, at)
    inv.first_evidence_seconds = None if ttfe is None else int(ttfe.total_seconds())
    inv.save(update_fields=["assigned_at", "first_evidence_at", "first_evidence_seconds"])
    rollup.mark_ticket(inv.ticket)


def add_evidence(ticket: Ticket, *, actor: User, kind: str, summary: str, link: str = "",
                 attachment: Attachment | None = None, file: UploadedFile | None = None,
                 verified: bool = False) -> Evidence:
    """Add one timestamped evidence item; verified at once if the agent says so."""
    _require_agent(actor)
    summary = (summary or "").strip()
    if kind not in EvidenceKind.values:
        raise ValidationError({"kind": _("Choose the kind of evidence.")})
    if not summary:
        raise ValidationError({"summary": _("Say what the evidence shows.")})
    if attachment is not None and attachment.message.ticket_id != ticket.pk:
        raise ValidationError({"attachment": _("That file belongs to another ticket.")})
    if file is not None and file.size > EVIDENCE_MAX_BYTES:
        raise ValidationError({"file": _("Files are limited to %(mb)s MB.") % {
            "mb": EVIDENCE_MAX_BYTES // 2**20}})
    with transaction.atomic():
        inv = investigation_of(ticket, create=True)
        now = timezone.now()
        evidence = Evidence(investigation=inv, kind=kind, summary=summary,
                            link=(link or "").strip(), attachment=attachment, added_by=actor,
                            created_at=now)
        if file is not None:
            name = safe_filename(file.name)
            evidence.file.save(name, file, save=False)
            evidence.full_clean(exclude=["investigation", "attachment", "added_by"])
        if verified:
            evidence.verified, evidence.verified_at, evidence.verified_by = True, now, actor
        evidence.save()
        if verified:
            _stamp_first_evidence(inv, now)
    return evidence


def verify_evidence(evidence: Evidence, *, actor: User) -> Evidence:
    """Mark an item verified (a confirmed finding); verifying twice changes nothing."""
    _require_agent(actor)
    with transaction.atomic():
        evidence = Evidence.objects.select_for_update().select_related(
            "investigation__ticket").get(pk=evidence.pk)
        if evidence.verified:
            return evidence
        now = timezone.now()
        evidence.verified, evidence.verified_at, evidence.verified_by = True, now, actor
        evidence.save(update_fields=["verified", "verified_at", "verified_by"])
        _stamp_first_evidence(evidence.investigation, now)
    return evidence


# --- playbooks --------------------------------------------------------------------------------

def start_playbook(ticket: Ticket, playbook: Playbook, *, actor: User) -> PlaybookRun:
    """Follow a playbook on this ticket (idempotent: one run per ticket and playbook)."""
    _require_agent(actor)
    if not playbook.is_active:
        raise ValidationError(_("This playbook is not active."))
    run, created = PlaybookRun.objects.get_or_create(
        ticket=ticket, playbook=playbook,
        defaults={"started_by": actor, "started_at": timezone.now()})
    if created:
        rollup.mark_ticket(ticket)
    return run


def check_step(run: PlaybookRun, step: PlaybookStep, *, actor: User, done: bool) -> None:
    """Tick off (or untick) one step of a playbook followed on a ticket."""
    _require_agent(actor)
    if step.playbook_id != run.playbook_id:
        raise ValidationError(_("That step belongs to another playbook."))
    if done:
        StepCheck.objects.get_or_create(run=run, step=step, defaults={
            "checked_by": actor, "checked_at": timezone.now()})
    else:
        StepCheck.objects.filter(run=run, step=step).delete()


def playbook_from_investigation(ticket: Ticket, *, actor: User, name: str = "") -> Playbook:
    """Draft a playbook from a resolved ticket's investigation: one step per evidence item
    (what was collected), then the hypothesis that held. Inactive until a lead reviews it."""
    _require_agent(actor)
    if ticket.resolved_at is None:
        raise ValidationError(_("Only a resolved ticket's investigation becomes a playbook."))
    inv = investigation_of(ticket)
    if inv is None:
        raise ValidationError(_("This ticket has no investigation to reuse."))
    with transaction.atomic():
        playbook = Playbook.objects.create(
            # A draft for people to edit, in the language of whoever drafts it.
            name=(name or _("From %(ticket)s: %(subject)s") % {
                "ticket": ticket.reference, "subject": ticket.subject}).strip()[:200],
            description="\n\n".join(p for p in (inv.goal, inv.actual) if p),
            is_active=False, source_ticket=ticket, created_by=actor,
            created_at=timezone.now())
        if ticket.category_id:
            playbook.categories.add(ticket.category_id)
        if ticket.product_area_id:
            playbook.product_areas.add(ticket.product_area_id)
        steps = [PlaybookStep(playbook=playbook, order=i,
                              title=_("Collect: %(kind)s") % {"kind": e.get_kind_display()},
                              collect=e.summary)
                 for i, e in enumerate(inv.evidence.all(), start=1)]
        if inv.hypothesis or inv.next_step:
            steps.append(PlaybookStep(playbook=playbook, order=len(steps) + 1,
                                      title=_("Confirm the cause"), collect=inv.next_step,
                                      decide=inv.hypothesis))
        PlaybookStep.objects.bulk_create(steps)
    return playbook


def article_from_investigation(ticket: Ticket, *, actor: User):
    """Draft a troubleshooting article for the help center from a resolved ticket's
    investigation: problem from the framing, cause from the hypothesis that held, solution
    from the last public agent reply, and what to check from the verified evidence. Customer
    details stay out; the draft is for customers, unpublished until someone publishes it.

    Issue 10 lets casework use the knowledge app for this (the only import between them).
    """
    from knowledge.models import ArticleTemplate, Audience
    from knowledge.services import create_article

    _require_agent(actor)
    if ticket.resolved_at is None:
        raise ValidationError(_("Only a resolved ticket's investigation becomes an article."))
    inv = investigation_of(ticket)
    if inv is None:
        raise ValidationError(_("This ticket has no investigation to reuse."))
    problem = "\n\n".join(p for p in (
        inv.goal and f"**What you are trying to do:** {inv.goal.strip()}",
        inv.actual and f"**What happens instead:** {inv.actual.strip()}",
        inv.environment and f"**Seen on:** {inv.environment.strip()}"
        + (f" (version {inv.version.strip()})" if inv.version else ""),
    ) if p) or ticket.subject
    checks = [f"- {e.get_kind_display()}: {e.summary.strip()}"
              for e in inv.evidence.filter(verified=True).order_by("created_at", "pk")
              if e.summary.strip()]
    reply = (ticket.messages.filter(is_public=True, by_agent=True)
             .order_by("-created_at").values_list("body", flat=True).first())
    body = (f"## Problem\n\n{problem}\n\n"
            f"## Cause\n\n{inv.hypothesis.strip() or '<Why it happens.>'}\n\n"
            + (("## How to confirm it\n\n" + "\n".join(checks) + "\n\n") if checks else "")
            + f"## Solution\n\n{(reply or '<The fix.>').strip()}\n")
    return create_article(
        title=ticket.subject, author=actor, template=ArticleTemplate.TROUBLESHOOTING,
        body=body, summary="", category=ticket.category, product_area=ticket.product_area,
        audience=Audience.CUSTOMERS, from_ticket=ticket)


# --- engineering links ------------------------------------------------------------------------

def link_engineering(ticket: Ticket, *, actor: User, tracker: str, key: str, url: str,
                     status: str = "") -> EngineeringLink:
    _require_agent(actor)
    key = (key or "").strip()
    if tracker not in EngineeringLink.Tracker.values:
        raise ValidationError({"tracker": _("Choose a tracker.")})
    if not key or not url:
        raise ValidationError(_("A tracker item needs its key and URL."))
    link = EngineeringLink(ticket=ticket, tracker=tracker, key=key[:100], url=url.strip(),
                           status=(status or "").strip()[:100], created_by=actor,
                           created_at=timezone.now())
    link.full_clean(exclude=["ticket", "created_by"], validate_constraints=False)
    if status:
        link.synced_at = link.created_at
    try:
        with transaction.atomic():
            link.save()
    except IntegrityError as exc:
        raise ValidationError(_("%(key)s is already linked to this ticket.")
                              % {"key": key}) from exc
    rollup.mark_ticket(ticket)
    return link


def sync_link_status(link: EngineeringLink, *, status: str) -> EngineeringLink:
    """Copy the tracker item's status (by hand, or from the tracker through the API)."""
    link.status = (status or "").strip()[:100]
    link.synced_at = timezone.now()
    link.save(update_fields=["status", "synced_at"])
    return link


# --- product feedback -------------------------------------------------------------------------

def tag_feedback(ticket: Ticket, *, actor: User, kind: str, title: str, quote: str,
                 use_case: str = "") -> FeedbackMention:
    """Tag product feedback on a ticket; the same kind and title aggregate into one item."""
    _require_agent(actor)
    title, quote = (title or "").strip(), (quote or "").strip()
    if kind not in FeedbackKind.values:
        raise ValidationError({"kind": _("Choose the kind of feedback.")})
    if not title or not quote:
        raise ValidationError(_("Feedback needs a title and the customer's words."))
    key = feedback_key(kind, title)
    now = timezone.now()
    with transaction.atomic():
        item, _created = FeedbackItem.objects.get_or_create(
            key=key, defaults={"kind": kind, "title": title[:200], "created_at": now})
        mention, created = FeedbackMention.objects.get_or_create(
            item=item, ticket=ticket, defaults={
                "organization_id": ticket.organization_id, "quote": quote[:500],
                "use_case": (use_case or "").strip()[:500], "added_by": actor,
                "created_at": now})
        if not created:
            raise ValidationError(_("This ticket already carries that feedback."))
    return mention


# --- at-risk accounts -------------------------------------------------------------------------

def raise_signal(organization: Organization | None, signal: str, *, ticket: Ticket | None = None,
                 detail: str = "", at: datetime | None = None) -> AtRiskAlert | None:
    """Record an at-risk signal and tell the organisation's CSM, once per signal, account
    and period (ISO week). None when it was already raised this period.

    This is also the hook for other apps and integrations (e.g. an incident that hits
    an account): they call it with Signal.INCIDENT.
    """
    if organization is None:
        return None
    if signal not in Signal.values:
        raise ValueError(f"Unknown signal {signal!r}")
    at = at or timezone.now()
    period = metrics.period_key(at)
    csm = organization.csm if organization.csm_id else None
    if csm is not None and not csm.is_agent:
        # The admin offers every user as CSM; a customer picked by mistake must not get
        # alerts that quote the agents' notes (issue 11).
        csm = None
    try:
        with transaction.atomic():
            alert = AtRiskAlert.objects.create(
                organization=organization, signal=signal, period=period, ticket=ticket,
                detail=detail[:2000], notified=csm, created_at=at)
    except IntegrityError:
        return None  # raised already this period: the unique row is the de-duplication
    if csm is not None:
        with in_language_of(csm):
            context = selectors.account_context(organization)
            signal_label = alert.get_signal_display()
            lines = [_("Signal: %(signal)s") % {"signal": signal_label}
                     + (f" — {detail_text(detail)}" if detail else ""),
                     _("Recent CSAT: %(csat)s") % {"csat": context["csat_text"]},
                     _("Recent tickets:")]
            lines += [f"  {t.reference} {t.subject} ({t.status_label})"
                      for t in context["tickets"]]
            title = _("At-risk: %(account)s — %(signal)s") % {
                "account": organization.name, "signal": signal_label}
        notify(csm, title=title, body="\n".join(lines), url=reverse("casework:at_risk"),
               source=f"casework.at_risk.{signal}",
               dedupe_key=f"casework.at_risk:{organization.pk}:{signal}:{period}")
    return alert


def flag_champion_departure(ticket: Ticket, *, actor: User, note: str) -> AtRiskAlert | None:
    _require_agent(actor)
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": _("Say who left and how you know.")})
    return raise_signal(ticket.organization, Signal.CHAMPION, ticket=ticket,
                        detail=f"{note} (flagged by {actor.display_name})")


# --- weekly voice of customer -----------------------------------------------------------------

def generate_voc_report(week: date | None = None) -> VocReport:
    """Build (or rebuild) the report of one ISO week; by default the last complete week."""
    today = timezone.now().date()
    start = metrics.week_start(week) if week else metrics.week_start(today) - timedelta(days=7)
    # Stored and read by everyone: labels in the site's language, whoever asked for it.
    with translation.override(settings.LANGUAGE_CODE):
        data = selectors.voc_figures(start)
    report, _created = VocReport.objects.update_or_create(
        week_start=start, defaults={"generated_at": timezone.now(), "data": data})
    return report

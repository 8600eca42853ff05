"""Reads shared by the war room, the status page, the API and the review pre-fill."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext

from helpdesk.models import SupportTier, User
from helpdesk.tiers import tier_label

from .models import (
    ActionItem,
    Incident,
    IncidentTicket,
    LinkSuggestion,
    PublicUpdate,
    Status,
    TimelineEntry,
)
from .permissions import can_view

STATUS_PAGE_RESOLVED_DAYS = 14
LINKS_SHOWN = 50

# SLA levels the sla app writes on tickets once a target has passed.
BREACH_LEVELS = ("breach", "severe")


def incidents_for(user: User) -> QuerySet[Incident]:
    """Incidents `user` may open (staff: all; anyone else: none, i.e. 404)."""
    if not can_view(user):
        return Incident.objects.none()
    return Incident.objects.select_related("severity", "declared_by")


def get_incident_for(user: User, pk: int | str) -> Incident:
    try:
        pk = int(pk)
    except (TypeError, ValueError) as exc:
        raise Http404("No such incident") from exc
    incident = incidents_for(user).filter(pk=pk).first()
    if incident is None:
        raise Http404("No such incident")
    return incident


def incident_list(user: User, *, state: str = "open") -> QuerySet[Incident]:
    qs = incidents_for(user).annotate(ticket_count=Count("links", distinct=True))
    if state == "open":
        qs = qs.exclude(status=Status.RESOLVED)
    elif state == "resolved":
        qs = qs.filter(status=Status.RESOLVED)
    if state == "open":
        return qs.order_by("severity__level", "-declared_at", "-pk")
    return qs.order_by("-declared_at", "-pk")


def open_incidents() -> QuerySet[Incident]:
    return Incident.objects.exclude(status=Status.RESOLVED).select_related("severity")


@dataclass
class Affected:
    tickets: int
    customers: int
    organizations: int
    by_tier: list[tuple[str, int, int]]  # (tier label, organisations, tickets)


def affected(incident: Incident) -> Affected:
    """Linked tickets, distinct customers (requesters) and organisations by tier."""
    links = IncidentTicket.objects.filter(incident=incident)
    totals = links.aggregate(
        tickets=Count("pk"), customers=Count("ticket__requester", distinct=True),
        organizations=Count("ticket__organization", distinct=True))
    rows = (links.values("ticket__organization__support_tier")
            .annotate(orgs=Count("ticket__organization", distinct=True), n=Count("pk"))
            .order_by("ticket__organization__support_tier"))
    order = {value: i for i, value in enumerate(SupportTier.values)}
    by_tier = sorted(
        ((tier_label(r["ticket__organization__support_tier"] or "") or gettext("No organisation"),
          r["orgs"], r["n"], order.get(r["ticket__organization__support_tier"], 99))
         for r in rows),
        key=lambda t: t[3])
    return Affected(totals["tickets"], totals["customers"], totals["organizations"],
                    [(label, orgs, n) for label, orgs, n, _ in by_tier])


def linked_tickets(incident: Incident, *, limit: int = LINKS_SHOWN) -> list[IncidentTicket]:
    return list(IncidentTicket.objects.filter(incident=incident)
                .select_related("ticket__requester", "ticket__organization")
                .order_by("ticket_id")[:limit])


def suggestions(incident: Incident) -> list[LinkSuggestion]:
    return list(LinkSuggestion.objects.filter(incident=incident, dismissed=False)
                .select_related("ticket__requester", "ticket__organization")[:20])


def timeline(incident: Incident) -> QuerySet[TimelineEntry]:
    return incident.timeline.select_related("author").order_by("created_at", "pk")


def war_room(incident: Incident, *, now: datetime | None = None) -> dict:
    """Everything the live part of the war room shows."""
    now = now or timezone.now()
    return {
        "incident": incident,
        "now": now,
        "roles": list(incident.roles.select_related("user").order_by("role", "pk")),
        "timeline": list(timeline(incident)),
        "links": linked_tickets(incident),
        "affected": affected(incident),
        "suggestions": suggestions(incident) if incident.is_open else [],
        "updates": list(incident.updates.all()[:20]),
    }


def sla_breaches(incident: Incident, *, now: datetime | None = None) -> int:
    """Linked tickets whose SLA was breached during the incident.

    Resolved incidents use the snapshot taken at resolution; open ones read the
    tickets' SLA fields (breach level written by the SLA app, or a due time passed).
    """
    links = IncidentTicket.objects.filter(incident=incident)
    if not incident.is_open:
        return links.filter(sla_breached=True).count()
    now = now or timezone.now()
    return links.filter(Q(ticket__sla_level__in=BREACH_LEVELS)
                        | Q(ticket__sla_due_at__lte=now)).count()


@dataclass
class ReviewFigures:
    started: datetime
    ended: datetime | None
    duration: timedelta
    tickets: int
    customers: int
    organizations: int
    by_tier: list[tuple[str, int, int]] = field(default_factory=list)
    sla_breaches: int = 0

    @property
    def duration_text(self) -> str:
        minutes = int(self.duration.total_seconds() // 60)
        hours, minutes = divmod(minutes, 60)
        return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"

    def as_text(self) -> str:
        end = f"{timezone.localtime(self.ended):%Y-%m-%d %H:%M}" if self.ended else "ongoing"
        lines = [
            f"- Duration: {self.duration_text} "
            f"({timezone.localtime(self.started):%Y-%m-%d %H:%M} to {end})",
            f"- Linked tickets: {self.tickets}",
            f"- Customers affected: {self.customers} in {self.organizations} organisations",
        ]
        lines += [f"  - {label}: {orgs} organisations, {n} tickets"
                  for label, orgs, n in self.by_tier]
        lines.append(f"- SLA breaches during the incident: {self.sla_breaches}")
        return "\n".join(lines)


def review_figures(incident: Incident, *, now: datetime | None = None) -> ReviewFigures:
    now = now or timezone.now()
    end = incident.resolved_at or now
    a = affected(incident)
    return ReviewFigures(
        started=incident.declared_at, ended=incident.resolved_at,
        duration=end - incident.declared_at, tickets=a.tickets, customers=a.customers,
        organizations=a.organizations, by_tier=a.by_tier,
        sla_breaches=sla_breaches(incident, now=now))


def timeline_text(incident: Incident) -> str:
    """The war-room timeline as review lines: "- [HH:MM] kind: text"."""
    return "\n".join(
        f"- [{timezone.localtime(e.created_at):%Y-%m-%d %H:%M}] {e.get_kind_display()}: "
        f"{e.body}" for e in timeline(incident))


def open_actions() -> QuerySet[ActionItem]:
    return (ActionItem.objects.exclude(state=ActionItem.State.DONE)
            .select_related("owner", "review__incident__severity")
            .order_by("due_date", "pk"))


# --- status page (public) ---------------------------------------------------------------

def public_updates() -> QuerySet[PublicUpdate]:
    return PublicUpdate.objects.filter(incident__is_public=True).order_by("-created_at", "-pk")


def status_page(*, now: datetime | None = None) -> tuple[list[Incident], list[Incident]]:
    """Public incidents: active ones, and those resolved in the last two weeks, each with
    its public updates only (internal timeline entries are never read here)."""
    now = now or timezone.now()
    updates = Prefetch("updates", queryset=PublicUpdate.objects.order_by("-created_at", "-pk"))
    base = (Incident.objects.filter(is_public=True).select_related("severity")
            .prefetch_related(updates))
    active = list(base.exclude(status=Status.RESOLVED).order_by("severity__level",
                                                                 "-declared_at"))
    recent = list(base.filter(status=Status.RESOLVED,
                              resolved_at__gte=now - timedelta(days=STATUS_PAGE_RESOLVED_DAYS))
                  .order_by("-resolved_at")[:20])
    return active, recent


def public_incident(pk: int) -> Incident:
    updates = Prefetch("updates", queryset=PublicUpdate.objects.order_by("-created_at", "-pk"))
    incident = (Incident.objects.filter(is_public=True, pk=pk).select_related("severity")
                .prefetch_related(updates).first())
    if incident is None:
        raise Http404("No such incident")
    return incident


def incident_links_for_ticket(ticket_id: int) -> list[IncidentTicket]:
    return list(IncidentTicket.objects.filter(ticket_id=ticket_id)
                .select_related("incident__severity").order_by("-incident__declared_at"))

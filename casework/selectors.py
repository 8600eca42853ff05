"""Reads of technical casework shared by the ticket panel, pages, API, tasks and report.

Definitions used by every figure (formulas in casework.metrics):

- A *technical ticket* is one that sits with a team above L1 (L2, L2 enterprise, L3) or
  was ever escalated.
- *Engineering involvement*: an escalation to engineering (status "with engineering") or
  to an L3 team that was not returned for missing context, or a linked bug-tracker item
  (EngineeringLink). "Solved without engineering" = resolved technical tickets with none.
- A *recurring* ticket is a technical ticket for whose category or product area an
  active playbook existed when it was opened; it "followed" a playbook if one was started.
- Dashboard figures cover tickets opened in the period; escalation figures cover the
  escalations of those tickets, by the escalating team.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import (
    Avg,
    Count,
    Exists,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.utils import formats
from django.utils.translation import gettext, gettext_lazy, ngettext

from helpdesk import formats as display
from helpdesk.models import Organization, Team, TeamTier
from tickets.models import Category, Escalation, Survey, Ticket

from . import metrics
from .models import (
    AtRiskAlert,
    EngineeringLink,
    FeedbackItem,
    FeedbackMention,
    Playbook,
    PlaybookRun,
)

TECHNICAL_TIERS = (TeamTier.L2, TeamTier.L2_ENTERPRISE, TeamTier.L3)
ENGINEERING_TIERS = (TeamTier.L3,)


def is_technical_team(team: Team | None) -> bool:
    return team is not None and team.tier in TECHNICAL_TIERS


# --- ticket-level conditions (as SQL) --------------------------------------------------------

def _escalations(**filters: Any) -> Exists:
    return Exists(Escalation.objects.filter(ticket=OuterRef("pk"), **filters))


def technical_q() -> Q:
    return Q(team__tier__in=TECHNICAL_TIERS) | Q(_escalations())


def engineering_q() -> Q:
    """Engineering involvement (see the module docstring)."""
    return (Q(_escalations(kind=Escalation.Kind.ENGINEERING, returned_at__isnull=True))
            | Q(_escalations(to_team__tier__in=ENGINEERING_TIERS, returned_at__isnull=True))
            | Q(Exists(EngineeringLink.objects.filter(ticket=OuterRef("pk")))))


def followed_playbook_q() -> Q:
    return Q(Exists(PlaybookRun.objects.filter(ticket=OuterRef("pk"))))


def recurring_q() -> Q:
    """An active playbook for the ticket's category or product area existed when it opened."""
    active = Playbook.objects.filter(is_active=True, created_at__lte=OuterRef("created_at"))
    return (Q(Exists(active.filter(categories=OuterRef("category_id"))))
            | Q(Exists(active.filter(product_areas=OuterRef("product_area_id")))))


# --- suggestions on a ticket -----------------------------------------------------------------

def suggested_playbooks(ticket: Ticket) -> QuerySet[Playbook]:
    """Active playbooks of the ticket's category or product area, with their steps."""
    match = Q(pk__in=[])
    if ticket.category_id:
        match |= Q(categories=ticket.category_id)
    if ticket.product_area_id:
        match |= Q(product_areas=ticket.product_area_id)
    ids = Playbook.objects.filter(match, is_active=True).values("pk")
    return Playbook.objects.filter(pk__in=ids).prefetch_related("steps").order_by("name", "pk")


def account_context(org: Organization) -> dict[str, Any]:
    """What a CSM needs with an alert: recent tickets and the recent CSAT ratings."""
    tickets = list(Ticket.objects.filter(organization=org).order_by("-created_at")
                   .only("id", "subject", "status", "created_at")[:5])
    ratings = list(Survey.objects.filter(ticket__organization=org, rating__isnull=False)
                   .order_by("-responded_at", "-id").values_list("rating", flat=True)[:5])
    csat_text = ngettext(
        "%(mean)s / 5 over the last %(num)d answer (newest first: %(ratings)s)",
        "%(mean)s / 5 over the last %(num)d answers (newest first: %(ratings)s)",
        len(ratings)) % {"mean": formats.number_format(sum(ratings) / len(ratings), 1),
                         "num": len(ratings), "ratings": ", ".join(map(str, ratings))} \
        if ratings else gettext("no answers")
    return {"tickets": tickets, "ratings": ratings, "csat_text": csat_text}


def recent_ratings(org_id: int, *, limit: int = 2 * metrics.CSAT_WINDOW) -> list[int]:
    """The organisation's latest survey ratings, oldest first."""
    newest_first = list(Survey.objects.filter(ticket__organization_id=org_id,
                                              rating__isnull=False)
                        .order_by("-responded_at", "-id").values_list("rating", flat=True)[:limit])
    return newest_first[::-1]


# --- dashboard -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Filters:
    start: datetime
    end: datetime
    team_id: int | None = None
    category_id: int | None = None


@dataclass
class Figures:
    """One row of the dashboard: the counts behind every metric and the metrics."""

    label: str = ""
    technical: int = 0
    resolved: int = 0
    resolved_without_engineering: int = 0
    evidence_tickets: int = 0
    ttfe_seconds: float | None = None
    followed: int = 0
    recurring: int = 0
    recurring_followed: int = 0
    escalations: int = 0
    returned: int = 0

    @property
    def solve_without_engineering(self) -> float | None:
        return metrics.rate(self.resolved_without_engineering, self.resolved)

    @property
    def rework(self) -> float | None:
        return metrics.rate(self.returned, self.escalations)

    @property
    def repeat_case(self) -> float | None:
        return metrics.rate(self.recurring_followed, self.recurring)

    @property
    def ttfe_text(self) -> str:
        return metrics.duration_text(self.ttfe_seconds)

    @property
    def swe_text(self) -> str:
        return display.share(self.solve_without_engineering)

    @property
    def rework_text(self) -> str:
        return display.share(self.rework)

    @property
    def repeat_text(self) -> str:
        return display.share(self.repeat_case)


def _tickets(f: Filters) -> QuerySet[Ticket]:
    qs = Ticket.objects.filter(created_at__gte=f.start, created_at__lt=f.end).order_by()
    if f.team_id:
        qs = qs.filter(team_id=f.team_id)
    if f.category_id:
        qs = qs.filter(category_id=f.category_id)
    return qs


def _escalation_qs(f: Filters) -> QuerySet[Escalation]:
    qs = Escalation.objects.filter(ticket__created_at__gte=f.start,
                                   ticket__created_at__lt=f.end).order_by()
    if f.team_id:
        qs = qs.filter(from_team_id=f.team_id)
    if f.category_id:
        qs = qs.filter(ticket__category_id=f.category_id)
    return qs


_RESOLVED = Q(resolved_at__isnull=False)


def ticket_aggregates() -> dict[str, Any]:
    followed, recurring = followed_playbook_q(), recurring_q()
    return {
        "technical": Count("pk"),
        "resolved": Count("pk", filter=_RESOLVED),
        "resolved_without_engineering": Count("pk", filter=_RESOLVED & ~engineering_q()),
        "evidence_tickets": Count("investigation__first_evidence_seconds"),
        "ttfe_seconds": Avg("investigation__first_evidence_seconds"),
        "followed": Count("pk", filter=followed),
        "recurring": Count("pk", filter=recurring),
        "recurring_followed": Count("pk", filter=recurring & followed),
    }


ESCALATION_AGGREGATES = {
    "escalations": Count("pk"),
    "returned": Count("pk", filter=Q(returned_at__isnull=False)),
}


def fold(ticket_cells: list[dict[str, Any]], escalation_cells: list[dict[str, Any]],
          ticket_key: str, escalation_key: str, names: dict[int | None, str]) -> list[Figures]:
    """Rows of one breakdown from the (team, category) cells: counts add up, the mean
    time to first evidence is weighted by the tickets it averages."""
    rows: dict[int | None, Figures] = {}
    weighted: dict[int | None, float] = defaultdict(float)
    for cell in ticket_cells:
        key = cell[ticket_key]
        row = rows.setdefault(key, Figures(label=names.get(key, "—")))
        for name in _TICKET_COUNTS:
            setattr(row, name, getattr(row, name) + cell[name])
        if cell["ttfe_seconds"] is not None:
            weighted[key] += cell["ttfe_seconds"] * cell["evidence_tickets"]
    for key, row in rows.items():
        row.ttfe_seconds = weighted[key] / row.evidence_tickets if row.evidence_tickets \
            else None
    for cell in escalation_cells:
        key = cell[escalation_key]
        row = rows.setdefault(key, Figures(label=names.get(key, "—")))
        row.escalations += cell["escalations"]
        row.returned += cell["returned"]
    return sorted(rows.values(), key=lambda row: (row.label == "—", row.label))


_TICKET_COUNTS = ("technical", "resolved", "resolved_without_engineering", "evidence_tickets",
                  "followed", "recurring", "recurring_followed")


def breakdowns(f: Filters, team_names: dict[int | None, str],
               category_names: dict[int | None, str]) -> tuple[list[Figures], list[Figures]]:
    """The per-team and per-category rows from one pass over the period's tickets (and one
    over their escalations), grouped by team and category together, folded here."""
    ticket_cells = list(_tickets(f).filter(technical_q()).values("team_id", "category_id")
                        .annotate(**ticket_aggregates()).order_by())
    escalation_cells = list(_escalation_qs(f).values("from_team_id", "ticket__category_id")
                            .annotate(**ESCALATION_AGGREGATES).order_by())
    return (fold(ticket_cells, escalation_cells, "team_id", "from_team_id", team_names),
            fold(ticket_cells, escalation_cells, "category_id", "ticket__category_id",
                  category_names))


# Lazy: the dashboard's figures are cached for every reader; the label is translated
# when a page shows it.
ALL = gettext_lazy("All")


def totals(f: Filters) -> Figures:
    figures = Figures(label=ALL, **_tickets(f).filter(technical_q())
                      .aggregate(**ticket_aggregates()))
    esc = _escalation_qs(f).aggregate(**ESCALATION_AGGREGATES)
    figures.escalations, figures.returned = esc["escalations"], esc["returned"]
    return figures


def escalation_rate_by_tier(f: Filters) -> list[dict[str, Any]]:
    """Per tier: tickets it handled (held now, or escalated into or out of it) and the
    share of them escalated out of it. Two queries: the period's tickets counted by their
    team's tier, and their escalations (a few per hundred tickets), combined here; one
    EXISTS per tier and ticket took seconds on a month of a million-ticket helpdesk."""
    tickets = _tickets(f)
    held = dict(tickets.values_list("team__tier").annotate(n=Count("pk")).order_by())
    own_tier: dict[int, str | None] = {}
    touched: dict[str, set[int]] = defaultdict(set)  # escalated into or out of the tier
    out: dict[str, set[int]] = defaultdict(set)
    for ticket_id, tier, from_tier, to_tier in Escalation.objects.filter(
            ticket__in=tickets).values_list(
            "ticket_id", "ticket__team__tier", "from_team__tier", "to_team__tier").order_by():
        own_tier[ticket_id] = tier
        if from_tier:
            out[from_tier].add(ticket_id)
            touched[from_tier].add(ticket_id)
        if to_tier:
            touched[to_tier].add(ticket_id)
    rows = []
    for tier, label in TeamTier.choices:
        # Held now, plus those escalated into or out of it that it does not hold now.
        handled = held.get(tier, 0) + sum(1 for t in touched[tier] if own_tier[t] != tier)
        escalated = len(out[tier])
        share = metrics.rate(escalated, handled)
        rows.append({"tier": tier, "label": label, "handled": handled, "escalated": escalated,
                     "rate": share, "rate_text": metrics.percent_text(share)})
    return rows


def summed(rows: list[Figures], label: str = ALL) -> Figures:
    """The totals of a complete breakdown (every group, the ungrouped one included): the
    counts add up and the mean time to first evidence is weighted by the tickets it
    averages, so the dashboard needs no separate pass over the period for them."""
    total = Figures(label=label)
    weighted = 0.0
    for row in rows:
        for name in _ADDITIVE:
            setattr(total, name, getattr(total, name) + getattr(row, name))
        if row.ttfe_seconds is not None:
            weighted += row.ttfe_seconds * row.evidence_tickets
    total.ttfe_seconds = weighted / total.evidence_tickets if total.evidence_tickets else None
    return total


_ADDITIVE = ("technical", "resolved", "resolved_without_engineering", "evidence_tickets",
             "followed", "recurring", "recurring_followed", "escalations", "returned")


def dashboard(f: Filters) -> dict[str, Any]:
    team_names: dict[int | None, str] = dict(Team.objects.values_list("pk", "name"))
    category_names: dict[int | None, str] = dict(Category.objects.values_list("pk", "name"))
    by_team, by_category = breakdowns(f, team_names, category_names)
    return {
        "totals": summed(by_team),
        "by_team": by_team,
        "by_category": by_category,
        "by_tier": escalation_rate_by_tier(f),
        "playbooks_drafted": Playbook.objects.filter(
            source_ticket__isnull=False, created_at__gte=f.start, created_at__lt=f.end).count(),
    }


# --- product feedback ------------------------------------------------------------------------

def _revenue_weight() -> Subquery:
    """Sum of the annual values of the distinct organisations that mentioned the item."""
    orgs = Organization.objects.filter(pk__in=FeedbackMention.objects.filter(
        item=OuterRef(OuterRef("pk"))).values("organization_id")).order_by()
    return Subquery(orgs.annotate(one=Value(1)).values("one")
                    .annotate(total=Sum("annual_value")).values("total")[:1])


def feedback_items(*, kind: str = "", order: str = "mentions") -> QuerySet[FeedbackItem]:
    """Items with mention and organisation counts and the revenue weight, in SQL."""
    qs = FeedbackItem.objects.annotate(
        mention_count=Count("mentions"),
        org_count=Count("mentions__organization", distinct=True),
        last_mentioned=Max("mentions__created_at"),
        revenue=_revenue_weight(),
    )
    if kind:
        qs = qs.filter(kind=kind)
    if order == "revenue":
        return qs.order_by(F("revenue").desc(nulls_last=True), "-mention_count", "pk")
    return qs.order_by("-mention_count", "-last_mentioned", "pk")


def customers_of(item_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """For a page of items: each distinct organisation that mentioned it, with its tier,
    its value and how many of its tickets did (one query)."""
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    rows = (FeedbackMention.objects.filter(item_id__in=item_ids).order_by()
            .values("item_id", "organization_id", "organization__name",
                    "organization__support_tier", "organization__annual_value")
            .annotate(tickets=Count("pk")))
    for r in rows:
        out[r["item_id"]].append({
            "name": r["organization__name"] or "(no organisation)",
            "tier": r["organization__support_tier"] or "",
            "annual_value": r["organization__annual_value"],
            "tickets": r["tickets"],
        })
    for orgs in out.values():
        orgs.sort(key=lambda o: (-(o["annual_value"] or Decimal(0)), o["name"]))
    return out


# --- weekly voice of customer -----------------------------------------------------------------

def voc_figures(week_start: date) -> dict[str, Any]:
    """The figures of one ISO week (Monday 00:00 UTC to the next) against the week before.
    Plain JSON: stored as the report's data."""

    start = datetime.combine(week_start, time.min, tzinfo=UTC)
    end, prev = start + timedelta(days=7), start - timedelta(days=7)
    this_week = Q(created_at__gte=start, created_at__lt=end)
    last_week = Q(created_at__gte=prev, created_at__lt=start)

    tickets = Ticket.objects.filter(created_at__gte=prev, created_at__lt=end).order_by()
    per_category = (tickets.values("category__name")
                    .annotate(this=Count("pk", filter=this_week),
                              previous=Count("pk", filter=last_week)))
    categories = [{"name": r["category__name"] or "(none)", "this_week": r["this"],
                   "previous_week": r["previous"], "change": r["this"] - r["previous"]}
                  for r in per_category]
    top = sorted((c for c in categories if c["this_week"]),
                 key=lambda c: (-c["this_week"], c["name"]))[:10]
    totals = tickets.aggregate(this=Count("pk", filter=this_week),
                               previous=Count("pk", filter=last_week))

    mentions = (FeedbackMention.objects.filter(created_at__gte=prev, created_at__lt=end)
                .order_by().values("item_id", "item__kind", "item__title")
                .annotate(this=Count("pk", filter=this_week),
                          previous=Count("pk", filter=last_week)))
    trending = sorted(
        ({"title": r["item__title"], "kind": r["item__kind"], "this_week": r["this"],
          "previous_week": r["previous"], "change": r["this"] - r["previous"]}
         for r in mentions if r["this"] > r["previous"]),
        key=lambda t: (-t["change"], -t["this_week"], t["title"]))[:10]
    rising_categories = sorted((c for c in categories if c["change"] > 0),
                               key=lambda c: (-c["change"], c["name"]))[:10]

    new_items = [{"title": i.title, "kind": i.kind, "mentions": i.n}
                 for i in FeedbackItem.objects.filter(this_week)
                 .annotate(n=Count("mentions")).order_by("-n", "title")[:50]]
    alerts = [{"organization": a.organization.name,
               "tier": a.organization.support_tier, "signal": a.get_signal_display(),
               "detail": a.detail, "at": a.created_at.isoformat()}
              for a in AtRiskAlert.objects.filter(this_week).select_related("organization")
              .order_by("organization__name", "signal")[:200]]
    return {
        "week_start": week_start.isoformat(),
        "tickets": {"this_week": totals["this"], "previous_week": totals["previous"],
                    "change": totals["this"] - totals["previous"]},
        "top_categories": top,
        "trending_categories": rising_categories,
        "trending_feedback": trending,
        "new_feedback": new_items,
        "at_risk": alerts,
        "at_risk_accounts": len({a["organization"] for a in alerts}),
    }

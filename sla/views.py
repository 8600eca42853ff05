"""SLA pages for agents: clocks approaching breach, the dashboard (and its CSV), the
paused-time report, and exempting a clock from the ticket page.

Reads go through sla.selectors; the one write (exempt) through sla.services.
Anyone who is not an agent gets a 404, like the rest of the agent workspace.
"""
from __future__ import annotations

import hashlib
from dataclasses import astuple
from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import formats, timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from helpdesk.csv_export import csv_response
from helpdesk.models import SupportTier, Team
from helpdesk.paging import CappedPaginator
from helpdesk.web import PeriodForm, agent_required
from tickets.models import Channel, Priority
from tickets.selectors import visible_tickets

from . import rollup, selectors
from .models import Clock

APPROACHING_PER_PAGE = 50
PAUSE_PAIRS_SHOWN = 100
WITHIN_CHOICES = [
    (15, gettext_lazy("15 minutes")), (30, gettext_lazy("30 minutes")),
    (60, gettext_lazy("1 hour")), (120, gettext_lazy("2 hours")),
    (240, gettext_lazy("4 hours")), (480, gettext_lazy("8 hours")),
    (1440, gettext_lazy("24 hours")),
]
DEFAULT_WITHIN = 60


# --- filter forms -----------------------------------------------------------------------------

class PeriodFilterForm(PeriodForm):
    """Clocks (or pauses) started in a period of local dates, narrowed by ticket fields."""

    team = forms.ModelChoiceField(Team.objects.all(), required=False,
                                  empty_label=gettext_lazy("All teams"),
                                  label=gettext_lazy("Team"))
    tier = forms.ChoiceField(choices=[("", gettext_lazy("All tiers")), *SupportTier.choices],
                             required=False, label=gettext_lazy("Support tier"))
    priority = forms.TypedChoiceField(
        choices=[("", gettext_lazy("All priorities")), *Priority.choices], coerce=int,
        empty_value=None, required=False, label=gettext_lazy("Priority"))
    channel = forms.ChoiceField(choices=[("", gettext_lazy("All channels")), *Channel.choices],
                                required=False, label=gettext_lazy("Channel"))

    def to_filters(self) -> selectors.DashboardFilters:
        data = self.values()
        start, end = self.bounds(data)
        team = data.get("team")
        return selectors.DashboardFilters(
            start=start, end=end, team_id=team.pk if team else None,
            tier=data.get("tier") or "", priority=data.get("priority"),
            channel=data.get("channel") or "",
        )


class ApproachingForm(forms.Form):
    team = forms.ModelChoiceField(Team.objects.all(), required=False,
                                  empty_label=gettext_lazy("All teams"),
                                  label=gettext_lazy("Team"),
                                  widget=forms.Select(attrs={"id": "filter_team"}))
    within = forms.TypedChoiceField(
        choices=WITHIN_CHOICES, coerce=int, required=False, empty_value=DEFAULT_WITHIN,
        label=gettext_lazy("Due within"), widget=forms.Select(attrs={"id": "filter_within"}),
    )


class ExemptForm(forms.Form):
    reason = forms.CharField(max_length=255, strip=True, label=gettext_lazy("Reason"),
                             help_text=gettext_lazy(
                                 "Why this clock does not apply (e.g. out of scope)."))


# --- approaching breach ---------------------------------------------------------------------

@require_GET
@agent_required
def approaching(request: HttpRequest) -> HttpResponse:
    form = ApproachingForm(request.GET or None)
    team, within = None, DEFAULT_WITHIN
    if form.is_valid():
        team = form.cleaned_data["team"]
        within = form.cleaned_data["within"] or DEFAULT_WITHIN
    now = timezone.now()
    clocks = selectors.approaching_breach(
        request.user, within=timedelta(minutes=within), team=team, at=now)
    # Counted up to CappedPaginator.cap: a big overdue backlog says "2000+" instead of
    # counting every overdue clock of the open queue on each 30-second refresh.
    page = CappedPaginator(clocks, APPROACHING_PER_PAGE).get_page(request.GET.get("page"))
    rows = selectors.add_live_figures(list(page.object_list), now=now)
    context = {
        "form": form, "page_obj": page, "clocks": rows, "now": now, "within": within,
        "within_label": dict(WITHIN_CHOICES).get(
            within, ngettext("%(count)s minute", "%(count)s minutes", within)
            % {"count": within}),
    }
    partial = request.htmx and not request.htmx.history_restore_request
    template = "sla/_approaching_results.html" if partial else "sla/approaching.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


# --- dashboard ------------------------------------------------------------------------------

def _minutes(value: timedelta | None) -> str:
    return "" if value is None else f"{value.total_seconds() / 60:.1f}"


def _number(value: float | None) -> str:
    return "" if value is None else f"{value}"


CSV_COLUMNS = [
    ("clocks", "clocks", str),
    ("response_met", "response_met", str),
    ("response_breached", "response_breached", str),
    ("response_compliance_pct", "response_compliance", _number),
    ("response_internal_met", "response_internal_met", str),
    ("response_internal_compliance_pct", "response_internal_compliance", _number),
    ("response_avg_used_min", "response_avg_used", _minutes),
    ("response_avg_target_min", "response_avg_target", _minutes),
    ("response_avg_internal_target_min", "response_avg_internal_target", _minutes),
    ("resolution_met", "resolution_met", str),
    ("resolution_breached", "resolution_breached", str),
    ("resolution_compliance_pct", "resolution_compliance", _number),
    ("resolution_internal_met", "resolution_internal_met", str),
    ("resolution_internal_compliance_pct", "resolution_internal_compliance", _number),
    ("resolution_avg_used_min", "resolution_avg_used", _minutes),
    ("resolution_avg_target_min", "resolution_avg_target", _minutes),
    ("resolution_avg_internal_target_min", "resolution_avg_internal_target", _minutes),
    ("breaches", "breaches", str),
    ("severe_breaches", "severe", str),
    ("leading_indicator_pct", "leading_indicator", _number),
]


def _dashboard_csv(request: HttpRequest, filters: selectors.DashboardFilters,
                   dimensions: list[str]) -> HttpResponse:
    start = filters.start.date().isoformat()
    end = (filters.end - timedelta(days=1)).date().isoformat()
    total = selectors.compliance(filters, user=request.user)
    rows = [["total", "all", *(fmt(total[key]) for _, key, fmt in CSV_COLUMNS)]]
    for dimension in dimensions:
        rows += ([dimension, row["group"], *(fmt(row[key]) for _, key, fmt in CSV_COLUMNS)]
                 for row in selectors.compliance_by(filters, dimension, user=request.user))
    return csv_response(f"sla-{start}-to-{end}",
                        ["dimension", "group", *(name for name, _, _ in CSV_COLUMNS)], rows)


PERCENT_KEYS = (
    "response_compliance", "response_internal_compliance", "resolution_compliance",
    "resolution_internal_compliance", "leading_indicator", "compliance", "internal_compliance",
)
DURATION_KEYS = (
    "response_avg_used", "response_avg_target", "response_avg_internal_target",
    "resolution_avg_used", "resolution_avg_target", "resolution_avg_internal_target",
    "avg_used", "avg_target", "avg_internal_target", "total", "average",
)


def _with_texts(row: dict[str, Any]) -> dict[str, Any]:
    """Add `<key>_text` for every percentage and duration of an aggregated row."""
    for key in PERCENT_KEYS:
        if key in row:
            row[f"{key}_text"] = ("—" if row[key] is None
                                  else f"{formats.number_format(row[key], 1)} %")
    for key in DURATION_KEYS:
        if key in row:
            row[f"{key}_text"] = selectors.human_duration(row[key])
    return row


CHART_HEIGHT = 120
CHART_BAR = 14
CHART_GAP = 10


def _weekly_chart(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """Bars of contractual and internal compliance per week, as SVG geometry (no inline CSS)."""
    bars = []
    x = 30
    for row in rows:
        for kind, value in (("contractual", row[f"{key}_compliance"]),
                            ("internal", row[f"{key}_internal_compliance"])):
            height = 0 if value is None else round(CHART_HEIGHT * value / 100, 1)
            bars.append({
                "x": x, "y": round(10 + CHART_HEIGHT - height, 1), "height": height,
                "kind": kind, "value": value, "week": row["group"],
            })
            x += CHART_BAR
        x += CHART_GAP
    labels = [{"x": 30 + i * (2 * CHART_BAR + CHART_GAP) + CHART_BAR, "text": r["group"][-3:]}
              for i, r in enumerate(rows)]
    return {"bars": bars, "labels": labels, "width": max(x + 10, 200), "bar": CHART_BAR,
            "height": CHART_HEIGHT + 40, "base": CHART_HEIGHT + 10,
            "grid": [{"y": 10 + CHART_HEIGHT - CHART_HEIGHT * p / 100, "label": p}
                     for p in (0, 50, 100)]}


DASHBOARD_CACHE_SECONDS = 300
DEFAULT_BREAKDOWN = "week"


def _visibility_scope(user: Any) -> str:
    """Users who see the same tickets share cached figures."""
    if user.sees_all_tickets:
        return "all"
    return f"u{user.pk}:t{','.join(map(str, sorted(user.team_ids)))}"


def _dashboard_figures(user: Any, filters: selectors.DashboardFilters,
                       by: str) -> dict[str, Any]:
    """Totals, the per-metric table, the chosen breakdown and the weekly series; the
    aggregates are kept for a few minutes, as a dashboard may be (and says so)."""
    key = "sla:dashboard:" + hashlib.sha256(
        repr((astuple(filters), by, _visibility_scope(user))).encode()).hexdigest()
    figures = cache.get(key)
    if figures is None:
        figures = {"computed_at": timezone.now(),
                   **selectors.dashboard_figures(filters, by=by, user=user,
                                                 source=rollup.source(filters, user))}
        cache.set(key, figures, DASHBOARD_CACHE_SECONDS)
    return figures


@require_GET
@agent_required
def dashboard(request: HttpRequest) -> HttpResponse:
    form = PeriodFilterForm(request.GET or None)
    filters = form.to_filters()
    by = request.GET.get("by") or ""
    if by and by not in selectors.DIMENSIONS:
        raise Http404("No such breakdown")
    if request.GET.get("format") == "csv":
        return _dashboard_csv(request, filters, [by] if by else list(selectors.DIMENSIONS))
    by = by or DEFAULT_BREAKDOWN
    figures = _dashboard_figures(request.user, filters, by)
    context = {
        "form": form,
        "filters": filters,
        "period_end": (filters.end - timedelta(days=1)).date(),
        "computed_at": figures["computed_at"],
        "cache_minutes": DASHBOARD_CACHE_SECONDS // 60,
        "totals": _with_texts(dict(figures["totals"])),
        "by_metric": [_with_texts(dict(r)) for r in figures["by_metric"]],
        "breakdown": {"name": by, "label": selectors.DIMENSIONS[by].label,
                      "rows": [_with_texts(dict(r)) for r in figures["rows"]]},
        "dimensions": [{"name": name, "label": spec.label, "current": name == by}
                       for name, spec in selectors.DIMENSIONS.items()],
        "charts": [
            {"key": "response", "title": _("First response compliance by week"),
             **_weekly_chart(figures["weeks"], "response")},
            {"key": "resolution", "title": _("Resolution compliance by week"),
             **_weekly_chart(figures["weeks"], "resolution")},
        ],
    }
    return render(request, "sla/dashboard.html", context)


# --- paused time ----------------------------------------------------------------------------

def _paused_figures(user: Any, filters: selectors.DashboardFilters) -> dict[str, Any]:
    """The paused-time report of a period, kept for a few minutes like the dashboard's
    figures (a month of a big helpdesk is some 60,000 pauses)."""
    key = "sla:paused:" + hashlib.sha256(
        repr((astuple(filters), PAUSE_PAIRS_SHOWN, _visibility_scope(user))).encode()
    ).hexdigest()
    figures = cache.get(key)
    if figures is None:
        figures = selectors.paused_report(filters, user=user, pairs=PAUSE_PAIRS_SHOWN)
        figures["computed_at"] = timezone.now()
        cache.set(key, figures, DASHBOARD_CACHE_SECONDS)
    return figures


@require_GET
@agent_required
def paused(request: HttpRequest) -> HttpResponse:
    form = PeriodFilterForm(request.GET or None)
    filters = form.to_filters()
    figures = _paused_figures(request.user, filters)
    context = {
        "form": form,
        "filters": filters,
        "period_end": (filters.end - timedelta(days=1)).date(),
        "computed_at": figures["computed_at"],
        "cache_minutes": DASHBOARD_CACHE_SECONDS // 60,
        "totals": _with_texts(dict(figures["totals"])),
        **{key: [_with_texts(dict(r)) for r in figures[key]]
           for key in ("by_agent", "by_reason", "by_agent_reason")},
        "pairs_shown": PAUSE_PAIRS_SHOWN,
    }
    return render(request, "sla/paused.html", context)


# --- exempt a clock ---------------------------------------------------------------------------

@require_POST
@agent_required
def exempt(request: HttpRequest, pk: int) -> HttpResponse:
    clock = (Clock.objects.select_related("ticket")
             .filter(pk=pk, ticket__in=visible_tickets(request.user).values("pk")).first())
    if clock is None:
        raise Http404("No such clock")
    form = ExemptForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a reason to exempt the clock."))
    elif not clock.is_active:
        messages.error(request, _("The “%(metric)s” clock has already stopped (%(state)s).") % {
            "metric": clock.get_metric_display(),
            "state": clock.get_state_display().lower()})
    else:
        from . import services  # the clock services; imported late, like any heavy dependency

        try:
            services.exempt(clock, reason=form.cleaned_data["reason"], actor=request.user)
        except (ValidationError, PermissionDenied, ValueError) as exc:
            text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            messages.error(request, text or _("This clock cannot be exempted."))
        else:
            messages.success(request, _("The “%(metric)s” clock is exempt from the SLA.")
                             % {"metric": clock.get_metric_display()})
    return redirect("agent:ticket", pk=clock.ticket_id)

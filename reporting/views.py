"""Support metrics dashboards for agents: their own, the team lead's and the manager's.

Figures come from reporting.metrics (aggregated in SQL) and are cached for five minutes per
filter set and visibility scope, like the SLA dashboard. Every view has a CSV of its table
(?format=csv). Anyone who is not an agent gets a 404.
"""
from __future__ import annotations

import hashlib
from dataclasses import astuple
from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from helpdesk.csv_export import csv_response
from helpdesk.models import SupportTier, Team, User
from helpdesk.selectors import agents
from helpdesk.web import PeriodForm, agent_required
from tickets.forms import AgentChoiceField
from tickets.models import Category, Channel, Priority
from tickets.state_machine import LABELS, Status

from . import durations, metrics, rollups

CACHE_SECONDS = 300


class MetricsFilterForm(PeriodForm):
    team = forms.ModelChoiceField(Team.objects.all(), required=False,
                                  empty_label=gettext_lazy("All teams"),
                                  label=gettext_lazy("Team"))
    # Rendered from the cached agent list: a join over every user costs ~0.3 s at 250k.
    agent = AgentChoiceField(agents(), required=False, empty_label=gettext_lazy("All agents"),
                             label=gettext_lazy("Agent"))
    tier = forms.ChoiceField(choices=[("", gettext_lazy("All tiers")), *SupportTier.choices],
                             required=False, label=gettext_lazy("Support tier"))
    priority = forms.TypedChoiceField(
        choices=[("", gettext_lazy("All priorities")), *Priority.choices], coerce=int,
        empty_value=None, required=False, label=gettext_lazy("Priority"))
    channel = forms.ChoiceField(choices=[("", gettext_lazy("All channels")), *Channel.choices],
                                required=False, label=gettext_lazy("Channel"))
    category = forms.ModelChoiceField(Category.objects.all(), required=False,
                                      empty_label=gettext_lazy("All categories"),
                                      label=gettext_lazy("Category"))

    def to_filters(self, **overrides: Any) -> metrics.MetricFilters:
        data = self.values()
        start, end = self.bounds(data)
        values = {
            "start": start,
            "end": end,
            "team_id": data["team"].pk if data.get("team") else None,
            "agent_id": data["agent"].pk if data.get("agent") else None,
            "tier": data.get("tier") or "",
            "priority": data.get("priority"),
            "channel": data.get("channel") or "",
            "category_id": data["category"].pk if data.get("category") else None,
        }
        values.update(overrides)
        return metrics.MetricFilters(**values)


# --- helpers ---------------------------------------------------------------------------------

def duration_text(value: timedelta | None) -> str:
    if value is None:
        return "—"
    minutes = int(value.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return _("%(days)s d %(hours)s h") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": minutes}
    if minutes or value <= timedelta(0):
        return _("%(minutes)s min") % {"minutes": minutes}
    return _("< 1 min")


def _hours(value: timedelta | None) -> str:
    return "" if value is None else f"{value.total_seconds() / 3600:.2f}"


def _num(value: Any) -> str:
    """A number as the reader's locale writes it (decimal comma in German)."""
    return "" if value is None else str(formats.localize(value))


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{formats.number_format(value, 1)} %"


def _scope(user: Any) -> str:
    if user.sees_all_tickets:
        return "all"
    return f"u{user.pk}:t{','.join(map(str, sorted(user.team_ids)))}"


def _cached(name: str, user: Any, filters: metrics.MetricFilters, compute: Any) -> Any:
    key = f"metrics:{name}:" + hashlib.sha256(
        repr((astuple(filters), _scope(user))).encode()).hexdigest()
    figures = cache.get(key)
    if figures is None:
        figures = compute()
        figures["computed_at"] = timezone.now()
        cache.set(key, figures, CACHE_SECONDS)
    return figures


def _csv(filename: str, header: list[str], rows: list[list[Any]]) -> HttpResponse:
    return csv_response(filename, header,
                        ([v if isinstance(v, str) else _num(v) for v in row] for row in rows))


CHART_H = 100


def bar_chart(rows: list[dict[str, Any]], key: str, *, label: str = "label",
              maximum: float | None = None) -> dict[str, Any]:
    """SVG geometry of one bar per row (no inline CSS); values may be None (no bar)."""
    values = [r[key] for r in rows]
    top = maximum or max([v for v in values if v is not None] or [0]) or 1
    bars, step, width = [], 34, 22
    for i, (row, value) in enumerate(zip(rows, values, strict=True)):
        h = 0 if value is None else round(CHART_H * max(value, 0) / top, 1)
        bars.append({"x": 30 + i * step, "y": round(10 + CHART_H - h, 1), "h": h,
                     "value": value, "label": row[label],
                     "short": str(row[label])[-3:]})
    return {"bars": bars, "bar": width, "width": max(30 + len(rows) * step + 10, 200),
            "height": CHART_H + 34, "base": CHART_H + 10, "top": top}


def _period(filters: metrics.MetricFilters) -> dict[str, Any]:
    return {"filters": filters, "period_end": (filters.end - timedelta(days=1)).date(),
            "cache_minutes": CACHE_SECONDS // 60}


# --- the agent's own dashboard ----------------------------------------------------------------

def _week_start(now: datetime) -> datetime:
    local = timezone.localtime(now)
    monday = local.date() - timedelta(days=local.weekday())
    return datetime.combine(monday, time.min, tzinfo=local.tzinfo)


def agent_figures(user: User, filters: metrics.MetricFilters) -> dict[str, Any]:
    now = timezone.now()
    own = metrics.MetricFilters(**{**filters.__dict__, "agent_id": user.pk})
    week = metrics.MetricFilters(**{**own.__dict__, "start": _week_start(now), "end": now})
    figures = {"open": metrics.own_open(user),
               "frt_week": metrics.first_response_time(week, user=user)}
    fast = rollups.agent_from_rollup(own, user=user)
    if fast is None:
        figures.update(csat=metrics.csat_nps(own, user=user),
                       quality=metrics.resolution_quality(own, user=user),
                       ttr=metrics.time_to_resolution(own, user=user))
        return figures
    # Counts and means from the per-agent rollup; the median is not additive: read from
    # the agent's own resolved tickets (an index range of a month of one agent's).
    fast["ttr"]["median"] = metrics.resolution_median(own, user=user)
    return {**figures, **fast}


@require_GET
@agent_required
def mine(request: HttpRequest) -> HttpResponse:
    form = MetricsFilterForm(request.GET or None)
    form.fields.pop("agent")
    filters = form.to_filters(agent_id=request.user.pk)
    figures = _cached("mine", request.user, filters,
                      lambda: agent_figures(request.user, filters))
    q, c, f, t = figures["quality"], figures["csat"], figures["frt_week"], figures["ttr"]
    table = [
        (_("Open tickets assigned to me (now)"), _num(figures["open"]),
         _("count of my open tickets")),
        (_("First response time this week (median)"), duration_text(f["median"]),
         _("median of first_response_at − created_at over %(count)s tickets created since "
           "Monday") % {"count": _num(f["responded"])}),
        (_("First response time this week (mean)"), duration_text(f["mean"]),
         _("mean of the same")),
        (_("CSAT"), _pct(c["csat"]), _("%(satisfied)s rated 4–5 ÷ %(responses)s responses")
         % {"satisfied": _num(c["satisfied"]), "responses": _num(c["responses"])}),
        (_("Resolved"), _num(q["resolved"]), _("tickets resolved in the period")),
        (_("Handle time (mean)"),
         _("%(minutes)s min") % {"minutes": _num(q["handle_mean"])} if q["handle_mean"]
         else "—",
         _("Σ logged minutes ÷ %(count)s resolved tickets with time logged")
         % {"count": _num(q["tracked"])}),
        (_("Reopen rate"), _pct(q["reopen_pct"]),
         _("%(reopened)s reopened ÷ %(resolved)s resolved")
         % {"reopened": _num(q["reopened"]), "resolved": _num(q["resolved"])}),
        (_("First-contact resolution"), _pct(q["fcr_pct"]),
         _("%(fcr)s ÷ %(resolved)s resolved")
         % {"fcr": _num(q["fcr"]), "resolved": _num(q["resolved"])}),
        (_("Time to resolution (median)"), duration_text(t["median"]),
         _("median of resolved_at − created_at")),
    ]
    if request.GET.get("format") == "csv":
        return _csv("metrics-mine", ["figure", "value", "formula"],
                    [[str(a), str(b), c_] for a, b, c_ in table])
    return render(request, "reporting/metrics/mine.html", {
        "form": form, "figures": figures, "table": table, "computed_at": figures["computed_at"],
        **_period(filters)})


# --- the team lead's dashboard ----------------------------------------------------------------

def _oldest(user: User, filters: metrics.MetricFilters) -> list[dict[str, Any]]:
    # Lazy labels: the figures are cached for readers of every language.
    return [{"pk": t.pk, "subject": t.subject, "created_at": t.created_at,
             "status": gettext_lazy(LABELS[Status(t.status)]),
             "priority": Priority(t.priority).label,
             "assignee": t.assignee.display_name if t.assignee else gettext_lazy("Unassigned")}
            for t in metrics.oldest_open(filters, user=user)]


def team_figures(user: User, filters: metrics.MetricFilters) -> dict[str, Any]:
    fast = rollups.team_from_rollup(filters, user=user)
    if fast is not None:
        return {**fast, "sla": metrics.sla_from_priorities(fast["by_priority"]),
                "oldest": _oldest(user, filters)}
    agents, quality = metrics.agent_and_resolution_quality(filters, user=user)
    by_priority = metrics.by_priority(filters, user=user)
    return {
        # The per-priority clock counts add up to the team's: no second pass over them.
        "sla": metrics.sla_from_priorities(by_priority),
        "by_priority": by_priority,
        "oldest": _oldest(user, filters),
        "agents": agents,
        "quality": quality,
        "csat": metrics.csat_nps(filters, user=user),
    }


@require_GET
@agent_required
def team(request: HttpRequest) -> HttpResponse:
    data = request.GET.copy()
    if not data.get("team") and request.user.team_ids and "team" not in data:
        data["team"] = str(sorted(request.user.team_ids)[0])
    form = MetricsFilterForm(data)
    filters = form.to_filters()
    figures = _cached("team", request.user, filters, lambda: team_figures(request.user, filters))
    if request.GET.get("format") == "csv":
        return _csv("metrics-team", [
            "agent", "resolved", "tracked", "handle_mean_min", "reopened", "reopen_pct",
            "fcr", "fcr_pct", "responses", "satisfied", "csat_pct", "high_handle_time"],
            [[r["agent"], r["resolved"], r["tracked"], r["handle_mean"], r["reopened"],
              r["reopen_pct"], r["fcr"], r["fcr_pct"], r["responses"], r["satisfied"],
              r["csat"], "yes" if r["high"] else "no"] for r in figures["agents"]]
            + [[f"priority:{r['label']}", r["created"], "", "", "", "", "", "", "", "", "", ""]
               for r in figures["by_priority"]])
    by_priority = [{**r, "sla_text": _pct(r["sla_pct"]), "frt_text": duration_text(r["frt_mean"])}
                   for r in figures["by_priority"]]
    return render(request, "reporting/metrics/team.html", {
        "form": form, "figures": figures, "sla_text": _pct(figures["sla"]["pct"]),
        "by_priority": by_priority,
        "chart": bar_chart(by_priority, "sla_pct", maximum=100),
        "agents": [{**r, "csat_text": _pct(r["csat"]), "reopen_text": _pct(r["reopen_pct"]),
                    "fcr_text": _pct(r["fcr_pct"])} for r in figures["agents"]],
        "computed_at": figures["computed_at"], "factor": metrics.HIGH_HANDLE_FACTOR,
        **_period(filters)})


# --- the manager's dashboard ------------------------------------------------------------------

def manager_figures(user: User, filters: metrics.MetricFilters) -> dict[str, Any]:
    now = timezone.now()
    fast = rollups.manager_from_rollup(filters, user=user, now=now)
    if fast is not None:
        return fast
    sla = metrics.sla_compliance(filters, user=user)
    csat = metrics.csat_nps(filters, user=user)
    quality = metrics.resolution_quality(filters, user=user)
    weeks = metrics.weekly_trends(filters, user=user)
    end = min(filters.end, now)
    moments = [filters.start, max(end, filters.start)]
    start_backlog, end_backlog = metrics.backlog_at(filters, moments, user=user)
    backlog_score = metrics.backlog_score(start_backlog, end_backlog)
    return {
        "sla": sla, "csat": csat, "quality": quality, "weeks": weeks,
        "frt": metrics.first_response_time(filters, user=user),
        "ttr": metrics.time_to_resolution(filters, user=user),
        "escalation": metrics.escalation_rate(filters, user=user),
        "backlog": metrics.backlog(filters, user=user, now=now),
        "productivity": metrics.productivity(filters, user=user),
        "teams": metrics.team_health(filters, user=user, now=now),
        "backlog_start": start_backlog, "backlog_end": end_backlog,
        "backlog_score": backlog_score,
        "health": metrics.health_score(sla=sla["pct"], csat=csat["csat"],
                                       fcr=quality["fcr_pct"], backlog=backlog_score),
    }


@require_GET
@agent_required
def manager(request: HttpRequest) -> HttpResponse:
    form = MetricsFilterForm(request.GET or None, default_days=90)
    filters = form.to_filters()
    figures = manager_figures_cached(request.user, filters)
    weeks = [{**w, "frt_text": duration_text(w["frt_mean"]), "csat_text": _pct(w["csat"]),
              "fcr_text": _pct(w["fcr_pct"]), "reopen_text": _pct(w["reopen_pct"])}
             for w in figures["weeks"]]
    if request.GET.get("format") == "csv":
        return _csv("metrics-manager", [
            "week", "created", "frt_mean_h", "resolved", "fcr", "fcr_pct", "reopened",
            "reopen_pct", "tracked", "handle_mean_min", "responses", "satisfied", "csat_pct"],
            [[w["label"], w["created"], _hours(w["frt_mean"]), w["resolved"], w["fcr"],
              w["fcr_pct"], w["reopened"], w["reopen_pct"], w["tracked"], w["handle_mean"],
              w["responses"], w["satisfied"], w["csat"]] for w in weeks])
    return render(request, "reporting/metrics/manager.html", {
        "form": form, "figures": figures, "weeks": weeks,
        "charts": [
            {"title": _("Tickets resolved per week"), "chart": bar_chart(weeks, "resolved")},
            {"title": _("CSAT % per week"), "chart": bar_chart(weeks, "csat", maximum=100)},
            {"title": _("First-contact resolution % per week"),
             "chart": bar_chart(weeks, "fcr_pct", maximum=100)},
        ],
        "teams": [{**t, "age_text": duration_text(t["oldest_age"])} for t in figures["teams"]],
        "texts": {
            "sla": _pct(figures["sla"]["pct"]), "csat": _pct(figures["csat"]["csat"]),
            "fcr": _pct(figures["quality"]["fcr_pct"]),
            "reopen": _pct(figures["quality"]["reopen_pct"]),
            "escalation": _pct(figures["escalation"]["rate"]),
            "frt_median": duration_text(figures["frt"]["median"]),
            "frt_mean": duration_text(figures["frt"]["mean"]),
            "ttr_median": duration_text(figures["ttr"]["median"]),
            "ttr_mean": duration_text(figures["ttr"]["mean"]),
            "backlog_age": duration_text(figures["backlog"]["median_age"]),
        },
        "computed_at": figures["computed_at"], **_period(filters)})


def manager_figures_cached(user: User, filters: metrics.MetricFilters) -> dict[str, Any]:
    return _cached("manager", user, filters, lambda: manager_figures(user, filters))


@require_GET
@agent_required
def manager_medians(request: HttpRequest) -> HttpResponse:
    """The medians of the manager dashboard, loaded by the page after it renders from the
    rollup (htmx out-of-band swaps into the three cells). Cached like the page."""
    form = MetricsFilterForm(request.GET or None, default_days=90)
    filters = form.to_filters()
    user = request.user
    values = _cached("manager-medians", user, filters, lambda: manager_medians_values(
        filters, user=user, now=timezone.now()))
    return render(request, "reporting/metrics/_manager_medians.html", {
        "texts": {k: duration_text(values[k]) for k in ("frt", "ttr", "backlog_age")},
        "precision": durations.PRECISION if values.get("precision") else ""})


def manager_medians_values(filters: metrics.MetricFilters, *, user: User, now: datetime
                           ) -> dict[str, Any]:
    """First response and resolution medians from the daily histograms where they serve
    the filters (exact sorts of 90 days of tickets otherwise), backlog age exact."""
    return (durations.medians(filters, user=user, now=now)
            or metrics.medians(filters, user=user, now=now))

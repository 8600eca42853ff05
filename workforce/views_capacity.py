"""Capacity pages for agents and leads: coverage heat map of a team's week, forecast method
comparison (backtest MAPE) and the monthly staffing table.

Reads go through ``workforce.capacity``; anyone who is not an agent gets a 404, like the rest
of the agent workspace. Times are UTC.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django import forms
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from helpdesk.models import Team
from helpdesk.web import DateInput, agent_required
from tickets.models import Priority

from . import capacity
from . import forecast as fc
from .models import ForecastRun

HISTORY_WEEKS = 8
BACKTEST_WEEKS = 4
#: The arrival history (from the rollup), the handle time (the team's latest resolved
#: tickets with their logged minutes) and the backtest of every method on that history:
#: kept this long per team and week.
CACHE_SECONDS = 600


class CapacityForm(forms.Form):
    team = forms.ModelChoiceField(Team.objects.order_by("tier", "name"), required=False,
                                  empty_label=None, label=gettext_lazy("Team"))
    week = forms.DateField(required=False, widget=DateInput, label=gettext_lazy("Week"),
                           help_text=gettext_lazy(
                               "Any day of the week; the plan starts on its Monday."))
    method = forms.ChoiceField(
        choices=[("", gettext_lazy("Most accurate (lowest MAPE)")),
                 *ForecastRun.Method.choices],
        required=False, label=gettext_lazy("Forecast method"),
    )
    handle = forms.FloatField(required=False, min_value=0.5, max_value=24 * 60,
                              label=gettext_lazy("Handle minutes"),
                              help_text=gettext_lazy("Leave empty for the measured fallback."))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, f in self.fields.items():
            f.widget.attrs.setdefault("id", f"capacity_{name}")


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{formats.number_format(value * 100, 1)} %"


def _cell_text(cell: capacity.Interval) -> str:
    """"scheduled/required" agents, scheduled rounded half up as `floatformat(0)` does."""
    scheduled = Decimal(str(cell.scheduled)).quantize(Decimal(1), ROUND_HALF_UP)
    return f"{scheduled}/{cell.required_heads}"


def _monthly(week: date) -> list[capacity.MonthlyRow]:
    """The monthly table aggregates a whole month of tickets: kept ``CACHE_SECONDS``."""
    key = f"workforce:capacity:monthly:{week:%Y%m}"
    rows = cache.get(key)
    if rows is None:
        rows = capacity.monthly_staffing(week)
        cache.set(key, rows, CACHE_SECONDS)
    return rows


@require_GET
@agent_required
def dashboard(request: HttpRequest) -> HttpResponse:
    form = CapacityForm(request.GET or None)
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    team = data.get("team") or Team.objects.order_by("tier", "name").first()
    week = _monday(data.get("week") or timezone.now().astimezone(UTC).date())
    week_start = datetime.combine(week, datetime.min.time(), tzinfo=UTC)
    context: dict[str, Any] = {"form": form, "team": team, "week": week,
                               "week_end": week + timedelta(days=6)}
    if team is None:
        return render(request, "workforce/capacity/dashboard.html", context)

    history_start = week_start - timedelta(weeks=HISTORY_WEEKS)
    key = f"workforce:capacity:{team.pk}:{week_start:%Y%m%d}"
    cached = cache.get(key)
    if cached is None:
        queued, deferred = capacity.hourly_arrivals_by_group(team=team, start=history_start,
                                                             end=week_start)
        total = [q + d for q, d in zip(queued, deferred, strict=True)]
        # The backtest (every method over the last weeks) depends on the history only.
        cached = ((queued, deferred), capacity.handle_minutes(team),
                  capacity.compare_methods(total, history_start, BACKTEST_WEEKS))
        cache.set(key, cached, CACHE_SECONDS)
    (queued, deferred), handle, comparison = cached
    comparison = [{**row, "mape_text": _percent(row["mape"])} for row in comparison]
    method = data.get("method") or comparison[0]["method"]
    week_forecast = (fc.forecast(queued, history_start, fc.HOURS_PER_WEEK, method),
                     fc.forecast(deferred, history_start, fc.HOURS_PER_WEEK, method))
    plan = capacity.staffing_plan(team, week_start, handle=data.get("handle") or handle.minutes,
                                  forecast=week_forecast)
    gaps = {"gap-red": 0, "gap-amber": 0}
    for interval in plan.intervals:
        if interval.gap in gaps:
            gaps[interval.gap] += 1
    context.update(
        plan=plan,
        # 336 cells: their text is made here, not by a template filter per value.
        days=[(week + timedelta(days=d), [(cell.gap, _cell_text(cell)) for cell in row])
              for d, row in enumerate(plan.days())],
        half_hours=[f"{h // 2:02d}:{'30' if h % 2 else '00'}" for h in range(48)],
        comparison=comparison,
        method=method,
        method_label=ForecastRun.Method(method).label,
        handle=handle,
        handle_overridden=bool(data.get("handle")),
        red=gaps["gap-red"], amber=gaps["gap-amber"],
        forecast_total=sum(week_forecast[0]) + sum(week_forecast[1]),
        monthly=_monthly(week),
        priorities=Priority.choices,
        history_weeks=HISTORY_WEEKS,
        backtest_weeks=BACKTEST_WEEKS,
    )
    return render(request, "workforce/capacity/dashboard.html", context)

"""Schedule pages of the agent workspace: the weekly grid of a team, adding a shift from a
template, time off (request, and the leads' approval list), "my status" and adherence.

Agents only (others get a 404). Team leads of a team and managers (holding
workforce.change_scheduledshift, and either leading the team or seeing every team) edit the
schedules of others; everyone else sees and changes only their own.
Reads come from workforce.selectors, writes go through workforce.services.schedules.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from helpdesk import formats as display
from helpdesk.models import Team, User
from helpdesk.web import DateInput, agent_required

from . import selectors, shift_time
from .models import AgentState, ShiftTemplate
from .services import schedules

PENDING_SHOWN = 200


def _team_or_404(user: User, slug: str) -> Team:
    return get_object_or_404(selectors.visible_teams(user), slug=slug)


def _week(request: HttpRequest) -> date:
    raw = request.GET.get("week", "")
    try:
        day = date.fromisoformat(raw) if raw else timezone.localdate()
    except ValueError:
        day = timezone.localdate()
    return shift_time.week_start(day)


def _week_nav(monday: date) -> dict[str, Any]:
    days = [monday + timedelta(days=d) for d in range(7)]
    return {"monday": monday, "days": days, "previous_week": monday - timedelta(days=7),
            "next_week": monday + timedelta(days=7), "sunday": days[-1]}


# --- the weekly grid ----------------------------------------------------------------------

@require_GET
@agent_required
def index(request: HttpRequest) -> HttpResponse:
    team = selectors.visible_teams(request.user).first()
    if team is None:
        raise Http404("No team")
    return redirect("workforce_schedules:week", slug=team.slug)


@require_GET
@agent_required
def week(request: HttpRequest, slug: str) -> HttpResponse:
    team = _team_or_404(request.user, slug)
    manager = selectors.can_manage_team(request.user, team)
    monday = _week(request)
    agents = selectors.team_agents(team, request.user, manager=manager)
    ids = [a.pk for a in agents]
    lo = datetime.combine(monday - timedelta(days=1), datetime.min.time(), shift_time.UTC)
    hi = lo + timedelta(days=9)
    nav = _week_nav(monday)
    days = nav["days"]
    # The grid is 7 cells per agent (90 agents, 500 shifts a week in a large team): each
    # shift's text and instants are formatted here once, in the agent's zone (one zone
    # object per agent), not through a template filter per value.
    zones = {a.pk: shift_time.agent_zone(a) for a in agents}
    cells: dict[tuple[int, date], dict[str, list]] = {
        (a.pk, day): {"shifts": [], "off": []} for a in agents for day in days}
    for agent_id, starts_at, ends_at, template in selectors.shifts_between(
            ids, lo, hi).values_list("agent_id", "starts_at", "ends_at", "template__name"):
        zone = zones[agent_id]
        start, end = starts_at.astimezone(zone), ends_at.astimezone(zone)
        cell = cells.get((agent_id, start.date()))
        if cell is not None:
            cell["shifts"].append({
                "name": template or "",
                "start": f"{start:%H:%M}", "end": f"{end:%H:%M}",
                "start_iso": start.isoformat(), "end_iso": end.isoformat()})
    for off in selectors.time_off_between(ids, lo, hi):
        zone = zones[off.agent_id]
        for day in days:
            start, end = shift_time.local_day_bounds(day, zone)
            if off.starts_at < end and off.ends_at > start:
                cells[(off.agent_id, day)]["off"].append(off)
    rows = [{"agent": a, "name": a.display_name, "zone": zones[a.pk].key,
             "cells": [cells[(a.pk, day)] for day in days]} for a in agents]
    return render(request, "workforce/schedules/week.html", {
        "team": team, "teams": selectors.visible_teams(request.user), "rows": rows,
        "can_manage": manager, **nav,
    })


# --- adding a shift -----------------------------------------------------------------------

class ShiftForm(forms.Form):
    agent = forms.ModelChoiceField(User.objects.none(), label=gettext_lazy("Agent"))
    template = forms.ModelChoiceField(ShiftTemplate.objects.all(), label=gettext_lazy("Shift"))
    day = forms.DateField(widget=DateInput, label=gettext_lazy("Date (agent's local)"))
    note = forms.CharField(max_length=200, required=False, label=gettext_lazy("Note"))

    def __init__(self, *args: Any, team: Team, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["agent"].queryset = User.objects.filter(
            memberships__team=team, is_active=True).order_by("first_name", "username")


@require_http_methods(["GET", "POST"])
@agent_required
def add_shift(request: HttpRequest, slug: str) -> HttpResponse:
    team = _team_or_404(request.user, slug)
    if not selectors.can_manage_team(request.user, team):
        raise Http404("Not found")
    form = ShiftForm(request.POST or None, team=team,
                     initial={"day": request.GET.get("day") or timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            created = schedules.plan_shift(agent=data["agent"], template=data["template"],
                                           day=data["day"], team=team, note=data["note"])
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        else:
            messages.success(request, ngettext(
                "%(shift)s scheduled for %(agent)s on %(day)s (%(count)s part).",
                "%(shift)s scheduled for %(agent)s on %(day)s (%(count)s parts).",
                len(created)) % {"shift": data["template"], "agent": data["agent"],
                                 "day": formats.date_format(data["day"], "D Y-m-d"),
                                 "count": len(created)})
            return redirect(f"{_week_url(team)}?week={shift_time.week_start(data['day'])}")
    status = 422 if request.method == "POST" else 200
    return render(request, "workforce/schedules/add_shift.html",
                  {"team": team, "form": form}, status=status)


def _week_url(team: Team) -> str:
    return reverse("workforce_schedules:week", kwargs={"slug": team.slug})


# --- time off -----------------------------------------------------------------------------

class TimeOffForm(forms.Form):
    first = forms.DateField(widget=DateInput, label=gettext_lazy("First day off"))
    last = forms.DateField(widget=DateInput, label=gettext_lazy("Last day off (inclusive)"))
    reason = forms.CharField(max_length=200, required=False, label=gettext_lazy("Reason"))


@require_http_methods(["GET", "POST"])
@agent_required
def time_off(request: HttpRequest) -> HttpResponse:
    form = TimeOffForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            schedules.time_off_for_days(agent=request.user, first=data["first"],
                                        last=data["last"], reason=data["reason"])
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        else:
            messages.success(request, _("Time off requested; your team lead will decide."))
            return redirect("workforce_schedules:time_off")
    mine = selectors.own_time_off(request.user)
    pending = list(selectors.pending_time_off(request.user)[:PENDING_SHOWN])
    return render(request, "workforce/schedules/time_off.html", {
        "form": form, "mine": mine, "pending": pending,
    }, status=422 if request.method == "POST" else 200)


@require_POST
@agent_required
def decide_time_off(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(selectors.pending_time_off(request.user), pk=pk)
    decision = request.POST.get("decision")
    try:
        if decision == "approve":
            _approved, cancelled = schedules.approve_time_off(item, actor=request.user)
            text = _("Time off of %(agent)s approved.") % {"agent": item.agent}
            if cancelled:
                zone = shift_time.agent_zone(item.agent)
                text = _("Time off of %(agent)s approved. Cancelled shifts: %(shifts)s.") % {
                    "agent": item.agent, "shifts": ", ".join(
                        display.date_format(s.starts_at.astimezone(zone),
                                            "WEEKDAY_SHORT_DATETIME_FORMAT")
                        for s in cancelled)}
            messages.success(request, text)
        elif decision == "reject":
            schedules.reject_time_off(item, actor=request.user)
            messages.success(request, _("Time off of %(agent)s rejected.") % {"agent": item.agent})
        else:
            messages.error(request, _("Choose approve or reject."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("workforce_schedules:time_off")


# --- my status ----------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
@agent_required
def my_status(request: HttpRequest) -> HttpResponse:
    error = ""
    if request.method == "POST":
        try:
            schedules.set_status(agent=request.user, status=request.POST.get("status", ""))
        except ValidationError as exc:
            error = " ".join(exc.messages)
    context = {"current": selectors.current_status(request.user),
               "states": AgentState.choices, "error": error}
    template = ("workforce/schedules/_status.html" if request.htmx
                else "workforce/schedules/status.html")
    return render(request, template, context, status=422 if error else 200)


# --- adherence ----------------------------------------------------------------------------

@require_GET
@agent_required
def adherence(request: HttpRequest, slug: str) -> HttpResponse:
    team = _team_or_404(request.user, slug)
    manager = selectors.can_manage_team(request.user, team)
    monday = _week(request)
    agents = selectors.team_agents(team, request.user, manager=manager)
    report = selectors.adherence_week(agents, monday)
    rows = [{"agent": a, "days": report[a.pk]} for a in agents]
    return render(request, "workforce/schedules/adherence.html", {
        "team": team, "teams": selectors.visible_teams(request.user), "rows": rows,
        "can_manage": manager, **_week_nav(monday),
    })


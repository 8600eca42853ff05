"""Casework pages: actions of the investigation panel, the dashboard, product feedback,
at-risk accounts and the weekly voice-of-customer report.

Agents only (anyone else, and any ticket outside the agent's view, is a 404). Views parse
the request and call one service; the panel actions answer htmx with the panel itself.
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
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from helpdesk.csv_export import csv_response
from helpdesk.models import Team
from helpdesk.web import PeriodForm, agent_required, problem
from tickets import services as ticket_services
from tickets.models import Attachment, Category, Ticket
from tickets.selectors import get_ticket_for, visible_tickets
from tickets.services import TransitionError

from . import rollup, selectors, services
from .models import (
    AtRiskAlert,
    EngineeringLink,
    Evidence,
    FeedbackItem,
    FeedbackKind,
    FeedbackMention,
    Playbook,
    PlaybookRun,
    PlaybookStep,
    Signal,
    VocReport,
)
from .panels import can_return, panel_context

SERVICE_ERRORS = (ValidationError, PermissionDenied, TransitionError)
DEFAULT_DAYS = 30
PER_PAGE = 25


def can_see_dashboard(user: Any) -> bool:
    """Team leads and managers (anyone who sees every ticket, or leads a team)."""
    return bool(user.is_agent and (user.sees_all_tickets
                                   or user.memberships.filter(is_lead=True).exists()))


def _page(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    return render(request, template, {"can_see_dashboard": can_see_dashboard(request.user),
                                      **context})


# --- the ticket panel ------------------------------------------------------------------------

def _panel(request: HttpRequest, ticket: Ticket, *, message: str = "",
           error: str = "") -> HttpResponse:
    """htmx: the refreshed panel; otherwise back to the ticket page with a flash."""
    if request.htmx:
        ticket = get_ticket_for(request.user, ticket.pk)
        ctx = panel_context(ticket, request, error=error, force=True) or {}
        return render(request, "casework/_panel.html",
                      {"ticket": ticket, "cw_message": message, **ctx},
                      status=422 if error else 200)
    if error:
        messages.error(request, error)
    elif message:
        messages.success(request, message)
    return redirect(ticket.get_absolute_url())


def _act(request: HttpRequest, pk: int, action: Any, done: str) -> HttpResponse:
    ticket = get_ticket_for(request.user, pk)
    try:
        action(ticket)
    except SERVICE_ERRORS as exc:
        return _panel(request, ticket, error=problem(exc))
    return _panel(request, ticket, message=done)


@require_GET
@agent_required
def panel(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = get_ticket_for(request.user, pk)
    ctx = panel_context(ticket, request, force=True) or {}
    return render(request, "casework/_panel.html", {"ticket": ticket, **ctx})


@require_POST
@agent_required
def save_investigation(request: HttpRequest, pk: int) -> HttpResponse:
    from .models import Investigation

    data = {f: request.POST[f] for f in Investigation.SNAPSHOT_FIELDS if f in request.POST}
    return _act(request, pk, lambda t: services.save_investigation(
        t, actor=request.user, data=data), _("Investigation saved."))


@require_POST
@agent_required
def add_evidence(request: HttpRequest, pk: int) -> HttpResponse:
    def act(ticket: Ticket) -> None:
        attachment = None
        if request.POST.get("attachment"):
            attachment = Attachment.objects.filter(
                pk=request.POST["attachment"], message__ticket=ticket).first()
            if attachment is None:
                raise ValidationError(_("Choose a file of this ticket."))
        services.add_evidence(
            ticket, actor=request.user, kind=request.POST.get("kind", ""),
            summary=request.POST.get("summary", ""), link=request.POST.get("link", ""),
            attachment=attachment, file=request.FILES.get("file"),
            verified=request.POST.get("verified") == "1")

    return _act(request, pk, act, _("Evidence added."))


@require_POST
@agent_required
def verify_evidence(request: HttpRequest, pk: int, evidence_id: int) -> HttpResponse:
    ticket = get_ticket_for(request.user, pk)
    evidence = get_object_or_404(Evidence, pk=evidence_id, investigation__ticket=ticket)
    return _act(request, pk, lambda t: services.verify_evidence(evidence, actor=request.user),
                _("Evidence verified."))


@require_POST
@agent_required
def start_playbook(request: HttpRequest, pk: int, playbook_id: int) -> HttpResponse:
    playbook = get_object_or_404(Playbook, pk=playbook_id, is_active=True)
    return _act(request, pk, lambda t: services.start_playbook(
        t, playbook, actor=request.user), _("Following “%(name)s”.") % {"name": playbook.name})


@require_POST
@agent_required
def check_step(request: HttpRequest, pk: int, run_id: int, step_id: int) -> HttpResponse:
    ticket = get_ticket_for(request.user, pk)
    run = get_object_or_404(PlaybookRun, pk=run_id, ticket=ticket)
    step = get_object_or_404(PlaybookStep, pk=step_id, playbook_id=run.playbook_id)
    done = request.POST.get("done") == "1"
    return _act(request, pk, lambda t: services.check_step(
        run, step, actor=request.user, done=done), _("Step updated."))


@require_POST
@agent_required
def draft_playbook(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, lambda t: services.playbook_from_investigation(
        t, actor=request.user, name=request.POST.get("name", "")),
        _("Playbook drafted; a lead activates it after review."))


@require_POST
@agent_required
def draft_article(request: HttpRequest, pk: int) -> HttpResponse:
    """A help-center draft from the investigation; opens it in the article editor."""
    ticket = get_ticket_for(request.user, pk)
    try:
        article = services.article_from_investigation(ticket, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("agent:ticket", pk=ticket.pk)
    messages.success(request, _("Help-center draft created from the investigation; review it "
                                "before publishing."))
    target = reverse("knowledge:edit", args=[article.pk])
    if request.htmx:
        return HttpResponseClientRedirect(target)
    return redirect(target)


@require_POST
@agent_required
def add_link(request: HttpRequest, pk: int) -> HttpResponse:
    p = request.POST
    return _act(request, pk, lambda t: services.link_engineering(
        t, actor=request.user, tracker=p.get("tracker", ""), key=p.get("key", ""),
        url=p.get("url", ""), status=p.get("status", "")), _("Tracker item linked."))


@require_POST
@agent_required
def sync_link(request: HttpRequest, pk: int, link_id: int) -> HttpResponse:
    ticket = get_ticket_for(request.user, pk)
    link = get_object_or_404(EngineeringLink, pk=link_id, ticket=ticket)
    return _act(request, pk, lambda t: services.sync_link_status(
        link, status=request.POST.get("status", "")), _("Tracker status updated."))


@require_POST
@agent_required
def add_feedback(request: HttpRequest, pk: int) -> HttpResponse:
    p = request.POST
    return _act(request, pk, lambda t: services.tag_feedback(
        t, actor=request.user, kind=p.get("kind", ""), title=p.get("title", ""),
        quote=p.get("quote", ""), use_case=p.get("use_case", "")), _("Feedback tagged."))


@require_POST
@agent_required
def flag_champion(request: HttpRequest, pk: int) -> HttpResponse:
    def act(ticket: Ticket) -> None:
        if services.flag_champion_departure(ticket, actor=request.user,
                                            note=request.POST.get("note", "")) is None:
            raise ValidationError(_("Already flagged for this account this week."))

    return _act(request, pk, act, _("Champion departure flagged to the CSM."))


@require_POST
@agent_required
def return_escalation(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = get_ticket_for(request.user, pk)
    if not can_return(request.user, ticket_services.open_escalation(ticket)):
        return _panel(request, ticket, error=_("Only the receiving tier returns an escalation."))
    try:
        ticket_services.return_escalation(ticket, actor=request.user,
                                          missing=request.POST.get("missing", ""))
    except SERVICE_ERRORS as exc:
        return _panel(request, ticket, error=problem(exc))
    done = _("Escalation returned to the escalating team with your request.")
    if visible_tickets(request.user).filter(pk=ticket.pk).exists():
        return _panel(request, ticket, message=done)
    messages.success(request, done)
    queue = reverse("agent:queue", args=["mine"])
    return HttpResponseClientRedirect(queue) if request.htmx else redirect(queue)


@require_GET
@agent_required
def index(request: HttpRequest) -> HttpResponse:
    """The nav entry: the dashboard for leads and managers, product feedback for agents."""
    return redirect("casework:dashboard" if can_see_dashboard(request.user)
                    else "casework:feedback")


# --- dashboard -------------------------------------------------------------------------------

class DashboardFilterForm(PeriodForm):
    team = forms.ModelChoiceField(Team.objects.all(), required=False,
                                  empty_label=gettext_lazy("All teams"), label=gettext_lazy("Team"))
    category = forms.ModelChoiceField(Category.objects.all(), required=False,
                                      empty_label=gettext_lazy("All categories"),
                                      label=gettext_lazy("Category"))
    default_days = DEFAULT_DAYS

    def filters(self) -> selectors.Filters:
        data = self.values()
        start, end = self.bounds(data)
        team, category = data.get("team"), data.get("category")
        return selectors.Filters(
            start=start, end=end, team_id=team.pk if team else None,
            category_id=category.pk if category else None)


DASHBOARD_CACHE_SECONDS = 300


def _dashboard_figures(filters: selectors.Filters) -> dict[str, Any]:
    """The figures of a period, computed at most every five minutes: at a million tickets
    they take seconds (as the SLA and metrics dashboards, whose caches work the same)."""
    key = "casework:dashboard:" + hashlib.sha256(repr(astuple(filters)).encode()).hexdigest()
    data = cache.get(key)
    if data is None:
        # From the hourly rollup where it covers the period, else from the tickets.
        data = rollup.dashboard_from_rollup(filters) or selectors.dashboard(filters)
        cache.set(key, data, DASHBOARD_CACHE_SECONDS)
    return data


@require_GET
@agent_required
def dashboard(request: HttpRequest) -> HttpResponse:
    if not can_see_dashboard(request.user):
        raise Http404("Not found")
    form = DashboardFilterForm(request.GET or None)
    filters = form.filters()
    data = _dashboard_figures(filters)
    if request.GET.get("format") == "csv":
        return _dashboard_csv(data)
    return render(request, "casework/dashboard.html", {
        "form": form, "filters": filters, "period_end": filters.end - timedelta(days=1),
        **data})


def _dashboard_csv(data: dict[str, Any]) -> HttpResponse:
    header = ["breakdown", "name", "technical tickets", "time to first evidence (min)",
              "resolved", "resolved without engineering", "solve-without-engineering",
              "escalations", "returned", "rework rate", "workflow reuse", "recurring",
              "recurring that followed a playbook", "repeat-case rate"]
    groups = [("total", data["totals"])] + [("team", r) for r in data["by_team"]] + [
        ("category", r) for r in data["by_category"]]
    rows: list[list[Any]] = [
        [kind, r.label, r.technical,
         "" if r.ttfe_seconds is None else f"{r.ttfe_seconds / 60:.1f}",
         r.resolved, r.resolved_without_engineering, r.swe_text, r.escalations,
         r.returned, r.rework_text, r.followed, r.recurring, r.recurring_followed,
         r.repeat_text]
        for kind, r in groups]
    rows += [["tier", t["label"], t["handled"], "", "", "", "", t["escalated"], "",
              t["rate_text"]] for t in data["by_tier"]]
    return csv_response("casework-dashboard", header, rows)


# --- product feedback ------------------------------------------------------------------------

@require_GET
@agent_required
def feedback(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    kind = kind if kind in FeedbackKind.values else ""
    order = "revenue" if request.GET.get("order") == "revenue" else "mentions"
    page = Paginator(selectors.feedback_items(kind=kind, order=order), PER_PAGE).get_page(
        request.GET.get("page"))
    customers = selectors.customers_of([i.pk for i in page.object_list])
    items = [{"item": i, "customers": customers.get(i.pk, [])} for i in page.object_list]
    return _page(request, "casework/feedback.html", {
        "page_obj": page, "items": items, "kind": kind, "order": order,
        "kinds": FeedbackKind.choices})


@require_GET
@agent_required
def feedback_item(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(FeedbackItem, pk=pk)
    mentions = Paginator(FeedbackMention.objects.filter(item=item).select_related(
        "organization", "ticket", "added_by"), PER_PAGE).get_page(request.GET.get("page"))
    return _page(request, "casework/feedback_item.html", {
        "item": item, "page_obj": mentions, "customers": selectors.customers_of([item.pk])
        .get(item.pk, [])})


# --- at-risk accounts ------------------------------------------------------------------------

@require_GET
@agent_required
def at_risk(request: HttpRequest) -> HttpResponse:
    qs = AtRiskAlert.objects.select_related("organization", "ticket", "notified")
    signal = request.GET.get("signal", "")
    if signal in Signal.values:
        qs = qs.filter(signal=signal)
    if request.GET.get("mine") == "1":
        qs = qs.filter(organization__csm=request.user)
    page = Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))
    return _page(request, "casework/at_risk.html", {
        "page_obj": page, "signal": signal, "signals": Signal.choices,
        "mine": request.GET.get("mine") == "1"})


# --- weekly voice of customer -----------------------------------------------------------------

@require_GET
@agent_required
def voc_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(VocReport.objects.defer("data"), PER_PAGE).get_page(
        request.GET.get("page"))
    return _page(request, "casework/voc_list.html", {"page_obj": page})


@require_GET
@agent_required
def voc_detail(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_object_or_404(VocReport, pk=pk)
    if request.GET.get("format") == "csv":
        return _voc_csv(report)
    return _page(request, "casework/voc_detail.html", {
        "report": report, "data": report.data,
        "week_end": report.week_start + timedelta(days=6)})


@require_POST
@agent_required
def voc_generate(request: HttpRequest) -> HttpResponse:
    """Leads and managers may (re)build last week's report now instead of waiting."""
    if not can_see_dashboard(request.user):
        raise Http404("Not found")
    report = services.generate_voc_report()
    messages.success(request, _("Report of the week of %(date)s generated.") % {
        "date": formats.date_format(report.week_start, "DATE_FORMAT")})
    return redirect("casework:voc_detail", pk=report.pk)


def _voc_csv(report: VocReport) -> HttpResponse:
    data = report.data
    rows: list[list[Any]] = []
    t = data["tickets"]
    rows.append(["tickets", "all tickets", "", t["this_week"], t["previous_week"], t["change"]])
    for c in data["top_categories"]:
        rows.append(["top category", c["name"], "", c["this_week"], c["previous_week"],
                     c["change"]])
    for c in data["trending_categories"]:
        rows.append(["trending category", c["name"], "", c["this_week"], c["previous_week"],
                     c["change"]])
    for f in data["trending_feedback"]:
        rows.append(["trending feedback", f["title"], f["kind"], f["this_week"],
                     f["previous_week"], f["change"]])
    for f in data["new_feedback"]:
        rows.append(["new feedback", f["title"], f["kind"], f["mentions"], "", ""])
    for a in data["at_risk"]:
        rows.append(["at-risk account", a["organization"], a["signal"], "", "", ""])
    return csv_response(f"voice-of-customer-{report.week_start}",
                        ["section", "name", "kind", "this week", "previous week", "change"],
                        rows)



"""Incident pages for staff: list, declare, the live war room, review, action items.

Reads go through incidents.selectors, writes through incidents.services. Anyone who
is not staff gets a 404 (the war room is not advertised).
"""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from helpdesk.web import problem
from tickets.selectors import visible_tickets

from . import messages as templates
from . import permissions, selectors, services, severity
from .forms import (
    ActionForm,
    ActionStateForm,
    DeclareForm,
    EntryForm,
    LinkForm,
    ResolveForm,
    ReviewForm,
    RoleForm,
    SeverityForm,
    StatusForm,
    UpdateForm,
    parse_ids,
)
from .models import ActionItem, IncidentRole, LinkSuggestion, Review, UpdateKind

PER_PAGE = 30


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not permissions.can_view(request.user):
            raise Http404("Not found")
        return view(request, *args, **kwargs)

    return checked


def _back(request: HttpRequest, default: str) -> HttpResponse:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()},
                                                  require_https=request.is_secure()):
        return redirect(target)
    return redirect(default)


def _act(request: HttpRequest, fn: Callable[[], Any], ok: str) -> None:
    try:
        fn()
        messages.success(request, ok)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, problem(exc))


# --- list and declare -------------------------------------------------------------------

@staff_required
@require_GET
def incident_list(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "open")
    if state not in ("open", "resolved", "all"):
        state = "open"
    page = Paginator(selectors.incident_list(request.user, state=state), PER_PAGE).get_page(
        request.GET.get("page"))
    return render(request, "incidents/list.html", {
        "page": page, "state": state, "can_declare": permissions.can_declare(request.user)})


@staff_required
def declare(request: HttpRequest) -> HttpResponse:
    if not permissions.can_declare(request.user):
        raise Http404("Not found")
    raw_ids = request.POST.get("tickets") if request.method == "POST" else ",".join(
        request.GET.getlist("ticket"))
    ids = parse_ids(raw_ids or "")
    tickets = list(visible_tickets(request.user).filter(pk__in=ids)
                   .select_related("requester", "organization"))
    if request.method == "POST":
        form = DeclareForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                incident = services.declare(
                    title=data["title"], description=data["description"],
                    users_affected=data["users_affected"], impact=data["impact"],
                    level=data["level"], reason=data["reason"], keywords=data["keywords"],
                    is_public=data["is_public"], tickets=tickets, actor=request.user)
            except ValidationError as exc:
                form.add_error(None, problem(exc))
            else:
                messages.success(request, _("%(reference)s declared as %(severity)s.") % {
                    "reference": incident.reference, "severity": incident.severity.label})
                return redirect(incident)
    else:
        first = tickets[0] if tickets else None
        form = DeclareForm(initial={"title": first.subject if first else "",
                                    "tickets": ",".join(str(t.pk) for t in tickets),
                                    "is_public": True})
    return render(request, "incidents/declare.html", {
        "form": form, "tickets": tickets, "matrix": severity.matrix(),
        "users_labels": severity.USERS_LABELS, "impact_labels": severity.IMPACT_LABELS,
    })


@staff_required
@require_POST
def bulk_from_queue(request: HttpRequest) -> HttpResponse:
    """The queue's bulk bar: declare an incident from the selected tickets."""
    ids = [i for i in request.POST.getlist("ids") if i.isdigit()][:1000]
    if not ids:
        messages.error(request, _("Select tickets first."))
        return redirect("agent:queue", name="mine")
    return redirect(reverse("incidents:declare") + "?" + "&".join(f"ticket={i}" for i in ids))


# --- war room ---------------------------------------------------------------------------

def _room_context(request: HttpRequest, incident) -> dict[str, Any]:
    ctx = selectors.war_room(incident)
    user = request.user
    ctx.update({
        "can_manage": permissions.can_manage(user, incident),
        "can_publish": permissions.can_publish(user, incident),
        "can_work": permissions.can_declare(user),
    })
    return ctx


@staff_required
@require_GET
def room(request: HttpRequest, pk: int) -> HttpResponse:
    incident = selectors.get_incident_for(request.user, pk)
    ctx = _room_context(request, incident)
    kind = UpdateKind.UPDATE if ctx["updates"] else UpdateKind.INITIAL
    ctx.update({
        "entry_form": EntryForm(),
        "status_form": StatusForm(initial={"status": incident.status}),
        "severity_form": SeverityForm(initial={"level": incident.severity.level}),
        "role_form": RoleForm(),
        "link_form": LinkForm(),
        "update_form": UpdateForm(initial={"kind": kind,
                                           "body": templates.draft(kind, incident)}),
        "resolve_form": ResolveForm(initial={"body": templates.draft("resolution", incident)}),
    })
    return render(request, "incidents/room.html", ctx)


@staff_required
@require_GET
def room_live(request: HttpRequest, pk: int) -> HttpResponse:
    """The part of the war room that refreshes every 10 seconds (htmx polling)."""
    incident = selectors.get_incident_for(request.user, pk)
    return render(request, "incidents/_live.html", _room_context(request, incident))


def _room_post(handler: Callable[[HttpRequest, Any], None]) -> Callable[..., HttpResponse]:
    @staff_required
    @require_POST
    @wraps(handler)
    def view(request: HttpRequest, pk: int, **kwargs: Any) -> HttpResponse:
        incident = selectors.get_incident_for(request.user, pk)
        handler(request, incident, **kwargs)
        return _back(request, reverse("incidents:room", args=[incident.pk]))

    return view


def _invalid(request: HttpRequest, form: Any) -> None:
    errors = "; ".join(f"{form.fields[k].label}: {' '.join(v)}" if k in form.fields
                       else " ".join(v) for k, v in form.errors.items())
    messages.error(request, errors or _("Check the form."))


@_room_post
def add_entry(request: HttpRequest, incident) -> None:
    form = EntryForm(request.POST)
    if not form.is_valid():
        return _invalid(request, form)
    _act(request, lambda: services.add_entry(incident, kind=form.cleaned_data["kind"],
                                             body=form.cleaned_data["body"],
                                             actor=request.user), _("Added to the timeline."))


@_room_post
def change_status(request: HttpRequest, incident) -> None:
    form = StatusForm(request.POST)
    if not form.is_valid():
        return _invalid(request, form)
    _act(request, lambda: services.change_status(incident, status=form.cleaned_data["status"],
                                                 note=form.cleaned_data["note"],
                                                 actor=request.user), _("Status changed."))


@_room_post
def change_severity(request: HttpRequest, incident) -> None:
    form = SeverityForm(request.POST)
    if not form.is_valid():
        return _invalid(request, form)
    _act(request, lambda: services.change_severity(
        incident, level=form.cleaned_data["level"].level, reason=form.cleaned_data["reason"],
        actor=request.user), _("Severity changed."))


@_room_post
def assign_role(request: HttpRequest, incident) -> None:
    form = RoleForm(request.POST)
    if not form.is_valid():
        return _invalid(request, form)
    _act(request, lambda: services.assign_role(incident, role=form.cleaned_data["role"],
                                               user=form.cleaned_data["user"],
                                               actor=request.user), _("Role assigned."))


@_room_post
def remove_role(request: HttpRequest, incident, role_pk: int) -> None:
    row = get_object_or_404(IncidentRole, pk=role_pk, incident=incident)
    _act(request, lambda: services.remove_role(row, actor=request.user), _("Role removed."))


@_room_post
def link(request: HttpRequest, incident) -> None:
    form = LinkForm(request.POST)
    if not form.is_valid():
        return _invalid(request, form)
    ids = form.ticket_ids()
    tickets = list(visible_tickets(request.user).filter(pk__in=ids))
    if len(tickets) < len(ids):
        missing = len(ids) - len(tickets)
        messages.warning(request, ngettext("%(num)s ticket number not found.",
                                           "%(num)s ticket numbers not found.",
                                           missing) % {"num": missing})
    _act(request, lambda: services.link_tickets(incident, tickets, actor=request.user),
         ngettext("%(num)s ticket linked.", "%(num)s tickets linked.",
                  len(tickets)) % {"num": len(tickets)})


@_room_post
def unlink(request: HttpRequest, incident, ticket_pk: int) -> None:
    ticket = visible_tickets(request.user).filter(pk=ticket_pk).first()
    if ticket is None:
        raise Http404("No such ticket")
    _act(request, lambda: services.unlink_ticket(incident, ticket, actor=request.user),
         _("%(ticket)s unlinked.") % {"ticket": ticket.reference})


@_room_post
def suggestion(request: HttpRequest, incident, suggestion_pk: int) -> None:
    row = get_object_or_404(LinkSuggestion.objects.select_related("ticket", "incident"),
                            pk=suggestion_pk, incident=incident)
    if not visible_tickets(request.user).filter(pk=row.ticket_id).exists():
        raise Http404("No such ticket")
    if request.POST.get("action") == "dismiss":
        _act(request, lambda: services.dismiss_suggestion(row, actor=request.user),
             _("Suggestion dismissed."))
    else:
        _act(request, lambda: services.accept_suggestion(row, actor=request.user),
             _("%(ticket)s linked.") % {"ticket": row.ticket.reference})


@_room_post
def publish(request: HttpRequest, incident) -> None:
    form = UpdateForm(request.POST)
    if not form.is_valid():
        return _invalid(request, form)
    _act(request, lambda: services.publish_update(incident, kind=form.cleaned_data["kind"],
                                                  body=form.cleaned_data["body"],
                                                  actor=request.user),
         _("Update published; it is being sent to every linked ticket."))


@_room_post
def resolve(request: HttpRequest, incident) -> None:
    form = ResolveForm(request.POST)
    if not form.is_valid():
        return _invalid(request, form)
    _act(request, lambda: services.resolve(incident, body=form.cleaned_data["body"],
                                           ticket_status=form.cleaned_data["ticket_status"],
                                           actor=request.user),
         _("Incident resolved; linked tickets are being updated."))


@staff_required
@require_POST
def link_from_ticket(request: HttpRequest, ticket_pk: int) -> HttpResponse:
    """The ticket page's "link to incident" action."""
    ticket = visible_tickets(request.user).filter(pk=ticket_pk).first()
    if ticket is None:
        raise Http404("No such ticket")
    incident = selectors.get_incident_for(request.user, request.POST.get("incident"))
    _act(request, lambda: services.link_tickets(incident, [ticket], actor=request.user),
         _("%(ticket)s linked to %(incident)s.") % {
             "ticket": ticket.reference, "incident": incident.reference})
    return _back(request, ticket.get_absolute_url())


# --- review and action items ------------------------------------------------------------

@staff_required
def review(request: HttpRequest, pk: int) -> HttpResponse:
    incident = selectors.get_incident_for(request.user, pk)
    row = Review.objects.filter(incident=incident).first()
    if request.method == "POST":
        if row is None:
            row = services.start_review(incident, actor=request.user)
        form = ReviewForm(request.POST)
        if form.is_valid():
            try:
                services.save_review(row, actor=request.user, data=form.cleaned_data,
                                     complete="complete" in request.POST)
                messages.success(request, _("Review saved."))
                return redirect("incidents:review", pk=incident.pk)
            except (ValidationError, PermissionDenied) as exc:
                form.add_error(None, problem(exc))
    elif row is not None:
        form = ReviewForm(initial={n: getattr(row, n) for n in services.REVIEW_FIELDS})
    else:  # not started: the pre-filled draft; the row is created on the first save
        form = ReviewForm(initial=services.review_draft(incident))
    return render(request, "incidents/review.html", {
        "incident": incident, "review": row, "form": form, "action_form": ActionForm(),
        "can_work": permissions.can_declare(request.user),
        "figures": selectors.review_figures(incident),
        "actions": list(row.actions.select_related("owner")) if row else [],
        "state_choices": ActionItem.State.choices,
    })


@staff_required
@require_POST
def add_action(request: HttpRequest, pk: int) -> HttpResponse:
    incident = selectors.get_incident_for(request.user, pk)
    row = services.start_review(incident, actor=request.user)
    form = ActionForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        _act(request, lambda: services.add_action(row, title=data["title"], owner=data["owner"],
                                                  due_date=data["due_date"],
                                                  actor=request.user), _("Action item added."))
    else:
        _invalid(request, form)
    return redirect("incidents:review", pk=incident.pk)


@staff_required
@require_POST
def action_state(request: HttpRequest, action_pk: int) -> HttpResponse:
    action = get_object_or_404(ActionItem.objects.select_related("review"), pk=action_pk)
    form = ActionStateForm(request.POST)
    if form.is_valid():
        _act(request, lambda: services.set_action_state(action, state=form.cleaned_data["state"],
                                                        actor=request.user), _("Action updated."))
    return _back(request, reverse("incidents:actions"))


@staff_required
@require_GET
def actions(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.open_actions(), PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "incidents/actions.html", {
        "page": page, "state_choices": ActionItem.State.choices})

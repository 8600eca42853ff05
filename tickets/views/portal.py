"""Customer portal: list, file, read and follow up one's own (or one's organization's) tickets.

Views parse the request and call one service; a ticket the user cannot see is a 404.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from helpdesk.models import User
from helpdesk.web import problem

from .. import field_definitions, selectors, services
from ..forms_custom import CustomFieldsForm
from ..forms_portal import (
    PAGE_SIZE,
    NewTicketForm,
    ReopenForm,
    ReplyForm,
    TicketFilterForm,
    add_service_error,
)
from ..models import OPEN_STATUS_VALUES, Channel, EventKind, Ticket
from ..state_machine import TRANSITIONS, Status, TransitionError, allowed_targets
from ..templatetags.portal_tags import customer_status

SOLVED_STATUS_VALUES = [Status.RESOLVED.value, Status.CLOSED.value]


def _own(user: User) -> Q:
    """Tickets the user asked for or follows (cc), whatever their organization role."""
    cc_ticket_ids = Ticket.ccs.through.objects.filter(user_id=user.pk).values("ticket_id")
    return Q(requester_id=user.pk) | Q(pk__in=cc_ticket_ids)


def _agent_url(ticket: Ticket) -> str | None:
    try:
        return reverse("agent:ticket", args=[ticket.pk])
    except NoReverseMatch:  # agent workspace not installed
        return None


# --- list -----------------------------------------------------------------------------

@login_required
@require_http_methods(["GET", "HEAD"])
def ticket_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    is_org_admin = bool(user.is_org_admin and user.organization_id and not user.is_agent)
    filters = TicketFilterForm(request.GET or None, show_scope=is_org_admin)
    status = filters.value("status")
    scope = filters.value("scope") if is_org_admin else "own"

    qs: QuerySet[Ticket] = selectors.visible_tickets(user)
    if scope == "own":
        qs = qs.filter(_own(user))
    if status == "open":
        qs = qs.filter(status__in=OPEN_STATUS_VALUES)
    elif status == "solved":
        qs = qs.filter(status__in=SOLVED_STATUS_VALUES)
    # Newest first, served by the (requester|organization, -created_at) indexes.
    qs = qs.select_related("requester").only(
        "id", "subject", "status", "created_at", "updated_at",
        "requester__id", "requester__username", "requester__first_name",
        "requester__last_name",
    ).order_by("-created_at", "-id")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    tickets = list(page.object_list)
    url_format = reverse("portal:ticket", args=[0]).replace("/0/", "/{}/")  # reversed once
    for ticket in tickets:
        ticket.url = url_format.format(ticket.pk)
    return render(request, "tickets/portal/ticket_list.html", {
        "portal_links": [(label, reverse(name)) for label, name in _portal_links],
        "page_obj": page,
        "tickets": tickets,
        "user_id": user.pk,
        "now": timezone.now(),
        "filters": filters,
        "status_filter": status,
        "scope": scope,
        "show_requester": scope == "organization",
    })


# Extension point: links other apps add to the head of the customer's request list (the
# e-mail preferences of mailgate), as (label, URL name), without `tickets` knowing them.
# The label is lazy (gettext_lazy): registered once at start-up, shown in each reader's
# language.
_portal_links: list[tuple[str | Promise, str]] = []


def register_portal_link(label: str | Promise, url_name: str) -> None:
    if (label, url_name) not in _portal_links:
        _portal_links.append((label, url_name))


# --- new ticket -----------------------------------------------------------------------

# Extension point: apps above `tickets` add HTML to the new-ticket form (the knowledge app
# shows suggested articles) without `tickets` importing them. A hook takes the request and
# returns safe HTML (e.g. from render_to_string), or "" to add nothing.
NewTicketExtra = Callable[[HttpRequest], str]
_new_ticket_extras: list[NewTicketExtra] = []


def register_new_ticket_extra(hook: NewTicketExtra) -> None:
    if hook not in _new_ticket_extras:
        _new_ticket_extras.append(hook)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def new_ticket(request: HttpRequest) -> HttpResponse:
    custom_form = None
    if request.method == "POST":
        form = NewTicketForm(request.POST, request.FILES)
        custom_form = _custom_form(request, data=request.POST)
        if form.is_valid() & custom_form.is_valid():
            data = form.cleaned_data
            try:
                ticket = services.create_ticket(
                    requester=request.user, subject=data["subject"],
                    description=data["description"], channel=Channel.WEB,
                    category=data["category"], product_area=data["product_area"],
                    attachments=data["attachments"], actor=request.user,
                    custom_fields={k: v for k, v in custom_form.values().items()
                                   if v is not None},
                )
            except (ValidationError, TransitionError, PermissionDenied) as exc:
                if not (isinstance(exc, ValidationError) and hasattr(exc, "error_dict")
                        and custom_form.add_service_errors(exc.message_dict)):
                    add_service_error(form, exc, field="attachments")
            else:
                messages.success(
                    request, _("Thanks! Your request %(reference)s was received. "
                               "We will reply here and by e-mail.")
                    % {"reference": ticket.reference}
                )
                return redirect("portal:ticket", pk=ticket.pk)
    else:
        form = NewTicketForm(initial=_follow_up_initial(request) or _prefill_initial(request))
    return render(request, "tickets/portal/new_ticket.html", {
        "form": form, "form_extras": [hook(request) for hook in _new_ticket_extras],
        "custom_form": custom_form or _custom_form(request, data=request.GET),
    })


def _id(value: str | None) -> int | None:
    try:
        return int(value) if value and len(value) < 19 else None
    except ValueError:
        return None


def _custom_form(request: HttpRequest, *, data: Any) -> CustomFieldsForm:
    """The custom fields the ticket form of the chosen category (or product area) asks
    for; bound to `data` on a POST."""
    asked = field_definitions.asked_of_customers(_id(data.get("category")),
                                                 _id(data.get("product_area")))
    return CustomFieldsForm(data if request.method == "POST" else None,
                            asked=[(a.field, a.required) for a in asked])


@login_required
@require_http_methods(["GET", "HEAD"])
def custom_fields_form(request: HttpRequest) -> HttpResponse:
    """The custom fields part of the new-request form, swapped in by htmx when the
    customer picks a category or product area."""
    response = render(request, "tickets/portal/_custom_fields_form.html",
                      {"custom_form": _custom_form(request, data=request.GET)})
    patch_vary_headers(response, ["HX-Request"])
    return response


def _prefill_initial(request: HttpRequest) -> dict[str, str]:
    """?subject=&description= prefill the form (e.g. the help center's "still need help?"
    link carries what the customer searched for). Plain text; the form escapes it."""
    return {name: request.GET[name][:limit]
            for name, limit in (("subject", 255), ("description", 5000))
            if request.GET.get(name, "").strip()}


def _follow_up_initial(request: HttpRequest) -> dict[str, str]:
    """Prefill a follow-up of a closed request the user can see (?follow_up=<id>)."""
    try:
        pk = int(request.GET.get("follow_up", ""))
    except ValueError:
        return {}
    previous = selectors.visible_tickets(request.user).filter(pk=pk).only(
        "id", "subject").first()
    if previous is None:
        return {}
    return {
        "subject": (_("Follow-up: %(subject)s") % {"subject": previous.subject})[:255],
        "description": _("This follows up on my earlier request %(reference)s.")
        % {"reference": previous.reference} + "\n\n",
    }


# --- one ticket -----------------------------------------------------------------------

@dataclass(frozen=True)
class Activity:
    at: datetime
    text: str


def _activity(ticket: Ticket) -> list[Activity]:
    """Public events in customer words; internal events never reach this list."""
    out = []
    for event in selectors.timeline(ticket, include_internal=False):
        if event.kind == EventKind.CREATED:
            out.append(Activity(event.created_at, _("Request received")))
        elif event.kind == EventKind.STATUS:
            before, after = customer_status(event.before), customer_status(event.after)
            if before != after:
                out.append(Activity(event.created_at,
                                    _("Status changed to %(status)s") % {"status": after}))
        elif event.kind == EventKind.MERGED and event.field == "merged_into":
            out.append(Activity(event.created_at, _("Merged into request %(reference)s")
                                % {"reference": event.after}))
        elif event.kind == EventKind.MERGED:
            out.append(Activity(event.created_at,
                                _("A duplicate request was merged into this one")))
    return out


def _can_reopen(status: str) -> bool:
    step = TRANSITIONS.get((Status(status), Status.IN_PROGRESS))
    return bool(step and step.name == "reopen" and step.customer_allowed)


def _custom_edit_form(ticket: Ticket, data: Any = None) -> CustomFieldsForm | None:
    """The fields the customer may still edit on an open request, or None."""
    if ticket.status == Status.CLOSED:
        return None
    asked = [(f, f.customer_required) for f in field_definitions.active_fields()
             if f.customer_editable
             and field_definitions.applies(f, ticket.category_id, ticket.product_area_id)]
    if not asked:
        return None
    return CustomFieldsForm(data, asked=asked, values=ticket.custom_fields)


def _render_ticket(request: HttpRequest, ticket: Ticket, *, reply_form: ReplyForm | None = None,
                   reopen_form: ReopenForm | None = None, status: int = 200,
                   custom_form: CustomFieldsForm | None = None) -> HttpResponse:
    targets = allowed_targets(ticket.status, customer=True)
    merged_into = None
    if ticket.merged_into_id:
        merged_into = selectors.visible_tickets(request.user).filter(
            pk=ticket.merged_into_id).only("id", "subject").first()
    return render(request, "tickets/portal/ticket_detail.html", {
        "ticket": ticket,
        "conversation": list(selectors.conversation(ticket, include_internal=False,
                                                    viewer=request.user)),
        "activity": _activity(ticket),
        "merged_into": merged_into,
        "reply_form": reply_form or ReplyForm(),
        "reopen_form": reopen_form or ReopenForm(),
        "can_reply": ticket.status != Status.CLOSED,
        "can_solve": Status.RESOLVED in targets,
        "can_reopen": _can_reopen(ticket.status),
        "auto_close_days": settings.HELPDESK_AUTO_CLOSE_DAYS,
        # Visible fields only: nothing internal reaches the customer.
        "custom_values": field_definitions.shown_values(ticket, customer=True),
        "custom_form": custom_form or _custom_edit_form(ticket),
    }, status=status)


def _get_ticket(request: HttpRequest, pk: int) -> Ticket:
    return selectors.get_ticket_for(request.user, pk)


@login_required
@require_http_methods(["GET", "HEAD"])
def ticket_detail(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _get_ticket(request, pk)
    if request.user.is_agent and (url := _agent_url(ticket)):
        return redirect(url)
    return _render_ticket(request, ticket)


@login_required
@require_POST
def reply(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _get_ticket(request, pk)
    form = ReplyForm(request.POST, request.FILES)
    if form.is_valid():
        before = ticket.status
        try:
            services.add_reply(
                ticket, author=request.user, body=form.cleaned_data["body"], public=True,
                attachments=form.cleaned_data["attachments"], channel=Channel.WEB,
            )
        except TransitionError as exc:
            form.add_error(None, problem(exc))
        except (ValidationError, PermissionDenied) as exc:
            add_service_error(form, exc, field="attachments")
        else:
            ticket.refresh_from_db(fields=["status"])
            if before != ticket.status and before in (
                Status.WAITING_ON_CUSTOMER, Status.RESOLVED
            ):
                messages.success(request, _("Thanks, your reply was sent and we are back on it."))
            else:
                messages.success(request, _("Your reply was sent."))
            return redirect("portal:ticket", pk=ticket.pk)
    ticket.refresh_from_db()
    return _render_ticket(request, ticket, reply_form=form)


@login_required
@require_POST
def solve(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _get_ticket(request, pk)
    try:
        services.transition(ticket, Status.RESOLVED, actor=request.user,
                            reason="marked as solved by the customer")
    except (TransitionError, PermissionDenied) as exc:
        messages.error(request, problem(exc))
    else:
        messages.success(request, _("Glad it is solved! If the problem comes back, reopen the "
                                    "request or reply to it."))
    return redirect("portal:ticket", pk=ticket.pk)


@login_required
@require_POST
def reopen(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _get_ticket(request, pk)
    if not _can_reopen(ticket.status):
        messages.error(request, _("Only solved requests can be reopened."))
        return redirect("portal:ticket", pk=ticket.pk)
    form = ReopenForm(request.POST)
    if form.is_valid():
        try:
            services.transition(ticket, Status.IN_PROGRESS, actor=request.user,
                                reason=form.cleaned_data["reason"])
        except (TransitionError, PermissionDenied) as exc:
            add_service_error(form, exc)
        else:
            messages.success(request,
                             _("Your request is open again; we will pick it up shortly."))
            return redirect("portal:ticket", pk=ticket.pk)
    return _render_ticket(request, ticket, reopen_form=form)


@login_required
@require_POST
def update_custom_fields(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _get_ticket(request, pk)
    form = _custom_edit_form(ticket, request.POST)
    if form is None:
        raise PermissionDenied(_("There is nothing you can change on this request."))
    if form.is_valid():
        try:
            services.set_custom_fields(ticket, actor=request.user, values=form.changed_values())
        except (ValidationError, TransitionError, PermissionDenied) as exc:
            if not (isinstance(exc, ValidationError) and hasattr(exc, "error_dict")
                    and form.add_service_errors(exc.message_dict)):
                add_service_error(form, exc)
        else:
            messages.success(request, _("Your details were saved."))
            return redirect("portal:ticket", pk=ticket.pk)
    return _render_ticket(request, ticket, custom_form=form, status=400)

"""The agent workspace: queues, the ticket page and the actions on it.

Views parse the request and call one service; reads go through tickets.selectors.
Agents only: anyone else gets a 404, and so does a ticket outside the agent's view.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.functional import SimpleLazyObject
from django.utils.html import escape
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseClientRefresh

from helpdesk import config_cache
from helpdesk.csv_export import csv_response
from helpdesk.ids import parse_id
from helpdesk.paging import CappedPaginator
from helpdesk.selectors import agent_choices, agent_choices_version
from helpdesk.services import set_preference
from helpdesk.web import agent_required, problem

from .. import (
    bulk_actions,
    columns,
    custom_field_panel,
    events,
    field_definitions,
    following,
    presence,
    selectors,
    services,
    timetracking,
)
from ..filters import TicketFilter, is_filtered
from ..forms import (
    BulkForm,
    EscalateForm,
    MacroForm,
    MergeForm,
    NewTicketForm,
    ReplyForm,
    SavedFilterForm,
    TransitionForm,
    UpdateForm,
    clean_query,
    error_text,
    parse_tags,
)
from ..forms_custom import CustomFieldsForm
from ..models import Category, Macro, SavedFilter, Ticket
from ..panels import render_panels
from ..state_machine import ASSIGNEE, LABELS, PACKET, REASON, TRANSITIONS, Status, TransitionError

PER_PAGE_DEFAULT, PER_PAGE_MIN, PER_PAGE_MAX = 25, 10, 100
PER_PAGE_CHOICES = (10, 25, 50, 100)
QUEUE_COUNTS_TTL = 20
EXPORT_MAX_ROWS = 10_000
QUEUE_COLUMNS_KEY = "queue_columns"
SERVICE_ERRORS = (TransitionError, ValidationError, PermissionDenied)

View = Callable[..., HttpResponse]


# --- queues ---------------------------------------------------------------------------

@require_GET
@agent_required
def index(request: HttpRequest) -> HttpResponse:
    return redirect("agent:queue", name="mine")


def _per_page(request: HttpRequest) -> int:
    try:
        value = int(request.GET.get("per_page", PER_PAGE_DEFAULT))
    except (TypeError, ValueError):
        return PER_PAGE_DEFAULT
    return min(max(value, PER_PAGE_MIN), PER_PAGE_MAX)


def _scope_counts(scope: selectors.QueueScope) -> dict[str, int]:
    # Shared by every agent of the same teams: computed once per TTL for all of them, not
    # once per agent (the costly part over a big team's backlog).
    return cache.get_or_set(f"queue-counts:scope:{scope.key}",
                            lambda: selectors.scope_queue_counts(scope), QUEUE_COUNTS_TTL)


def _queue_counts(request: HttpRequest) -> dict[str, int]:
    # Up to QUEUE_COUNTS_TTL seconds old (the sidebar and the pager); the rows are live.
    return cache.get_or_set(
        f"queue-counts:{request.user.pk}",
        lambda: selectors.queue_counts(request.user, shared=_scope_counts), QUEUE_COUNTS_TTL,
    )


QUEUE_ICONS = {"mine": "user", "teams": "users", "unassigned": "inbox", "open": "list-todo"}


def _queue_nav(request: HttpRequest, current: str) -> list[dict[str, Any]]:
    counts = _queue_counts(request)
    return [
        {"name": name, "label": label, "current": name == current, "count": counts[name],
         "icon": QUEUE_ICONS.get(name, "list-todo")}
        for name, label in selectors.QUEUE_NAMES.items()
    ]


@require_GET
@agent_required
def queue_nav(request: HttpRequest) -> HttpResponse:
    """The queues with their counts, for the left navigation of every other page: one
    small request on the cached counts, so no page pays for counting tickets itself."""
    response = render(request, "includes/queue_nav.html",
                      {"queues": _queue_nav(request, "")})
    response["Cache-Control"] = "private, max-age=15"
    return response


def _saved_filters(request: HttpRequest) -> list[dict[str, Any]]:
    rows = (SavedFilter.objects.filter(Q(owner=request.user) | Q(is_shared=True))
            .select_related("owner").order_by("name", "id"))
    out = []
    for saved in rows:
        params = QueryDict(saved.query, mutable=True)
        queue_name = params.pop("queue", ["open"])[-1]
        if queue_name not in selectors.QUEUE_NAMES:
            queue_name = "open"
        query = params.urlencode()
        url = reverse("agent:queue", kwargs={"name": queue_name})
        out.append({
            "obj": saved, "url": f"{url}?{query}" if query else url,
            "mine": saved.owner_id == request.user.pk,
        })
    return out


@require_GET
@agent_required
def queue_view(request: HttpRequest, name: str) -> HttpResponse:
    if name not in selectors.QUEUE_NAMES:
        raise Http404("No such queue")
    # Ordering stays the model's (SLA due, priority, age): the filters only narrow.
    rows = selectors.queue(request.user, name)
    known_count = None
    available = columns.all_columns()
    shown = columns.chosen(request.user.preferences.get(QUEUE_COLUMNS_KEY), available)
    extra_fields = columns.fields_of(shown)
    if extra_fields:
        rows = rows.only(*selectors.ROW_FIELDS, *extra_fields)
    if is_filtered(request.GET):
        filterset = TicketFilter(request.GET, queryset=rows, request=request)
        rows = filterset.qs
    else:
        # Building the filter form costs more than the page's queries; an unfiltered
        # queue builds it only if the cached filter bar has to be rendered again.
        filterset = SimpleLazyObject(lambda: TicketFilter(None, queryset=rows,
                                                          request=request))
        known_count = _queue_counts(request)[name]  # the sidebar's count: no second COUNT
    sort = request.GET.get("sort", "")
    order = columns.ordering(sort)
    if order is None:
        sort = ""
    else:
        rows = rows.order_by(*order)
    per_page = _per_page(request)
    page = CappedPaginator(rows, per_page, known_count=known_count).get_page(
        request.GET.get("page"))
    tickets = selectors.label_rows(list(page.object_list))
    columns.prepare(shown, tickets)
    url_format = reverse("agent:ticket", args=[0]).replace("/0/", "/{}/")  # reversed once
    for ticket in tickets:
        ticket.url = url_format.format(ticket.pk)
    can_bulk = request.user.has_perm("tickets.bulk_update_ticket")
    now = timezone.now()
    context = {
        "queue_name": name,
        "queue_label": selectors.QUEUE_NAMES[name],
        "filter": filterset,
        "page_obj": page,
        "tickets": tickets,
        "per_page": per_page,
        "per_page_choices": PER_PAGE_CHOICES,
        "queues": _queue_nav(request, name),  # the left navigation shows them (nav_queues)
        "saved_query": clean_query(request.GET) if request.GET else "",
        "can_bulk": can_bulk,
        "now": now,
        "columns": shown,
        "sort": sort,
    }
    context["nav_queues"] = context["queues"]
    partial = request.htmx and not request.htmx.history_restore_request
    if partial:
        response = render(request, "tickets/agent/queue_partial.html", context)
    else:
        context["bulk_form"] = SimpleLazyObject(BulkForm)  # only inside a cached fragment
        # The filter bar shows the custom fields: a change to them renders it again.
        context["picker_version"] = f"{agent_choices_version()}.{config_cache.version()}"
        context["saved_filters"] = _saved_filters(request)
        context["extra_bulk_actions"] = bulk_actions.for_user(request.user)  # other apps'
        context["saved_filter_form"] = SavedFilterForm(initial={"query": context["saved_query"]})
        context["all_columns"] = available
        context["shown_keys"] = {c.key for c in shown}
        response = render(request, "tickets/agent/queue.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_GET
@agent_required
def queue_export(request: HttpRequest, name: str) -> HttpResponse:
    """The queue as CSV, with its filters (custom fields included), most urgent first:
    the ticket's columns, then one per active custom field (headed by its key). At most
    EXPORT_MAX_ROWS rows."""
    if name not in selectors.QUEUE_NAMES:
        raise Http404("No such queue")
    rows = selectors.queue(request.user, name).only(
        *selectors.ROW_FIELDS, "channel", "category_id", "custom_fields")
    if is_filtered(request.GET):
        rows = TicketFilter(request.GET, queryset=rows, request=request).qs
    tickets = selectors.label_rows(list(rows[:EXPORT_MAX_ROWS]))
    fields = field_definitions.active_fields()
    field_definitions.label_columns(tickets, fields)
    categories = dict(Category.objects.values_list("pk", "name"))
    header = ["id", "subject", "status", "priority", "channel", "category", "team",
              "assignee", "requester", "organization", "created_at", "sla_due_at",
              *(f.key for f in fields)]
    return csv_response(f"queue-{name}", header, (
        [t.pk, t.subject, t.status, f"P{t.priority}", t.channel,
         categories.get(t.category_id, ""), t.team_name, t.assignee_name, t.requester_name,
         t.org_name, t.created_at.isoformat(),
         t.sla_due_at.isoformat() if t.sla_due_at else "", *t.custom_cells]
        for t in tickets))


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


@require_POST
@agent_required
def bulk(request: HttpRequest) -> HttpResponse:
    back = _safe_next(request, reverse("agent:queue", kwargs={"name": "mine"}))
    form = BulkForm(request.POST)
    if not request.user.has_perm("tickets.bulk_update_ticket"):
        messages.error(request, _("You are not allowed to change tickets in bulk."))
    elif not form.is_valid():
        messages.error(request, error_text(form))
    else:
        data = form.cleaned_data
        ids = set(data["ids"])
        tickets = list(selectors.visible_tickets(request.user).filter(pk__in=ids).order_by("pk"))
        result = services.bulk_update(
            tickets, actor=request.user,
            assignee=data["assignee"] if data["action"] == BulkForm.ASSIGN else None,
            unassign=data["action"] == BulkForm.UNASSIGN,
            status=data["status"] if data["action"] == BulkForm.STATUS else "",
            reason=data["reason"],
        )
        changed = len(result.changed)
        messages.success(request, ngettext("%(num)s ticket changed.", "%(num)s tickets changed.",
                                           changed) % {"num": changed})
        for pk, why in sorted(result.refused.items()):
            messages.warning(request, _("#%(ticket)s refused: %(reason)s") % {"ticket": pk,
                                                                              "reason": why})
        unseen = ids - {t.pk for t in tickets}
        if unseen:
            messages.warning(request, ngettext(
                "%(num)s selected ticket could not be found.",
                "%(num)s selected tickets could not be found.", len(unseen)) % {"num": len(unseen)})
    if request.htmx:
        return HttpResponseClientRedirect(back)
    return redirect(back)


@require_POST
@agent_required
def queue_columns(request: HttpRequest) -> HttpResponse:
    """The agent's choice of queue columns, kept with the user (it follows them from one
    sign-in and browser to the next; read with the user, so no query of its own).
    "Defaults" (or choosing nothing) forgets the choice."""
    known = {c.key for c in columns.all_columns()}
    chosen = [key for key in request.POST.getlist("columns") if key in known]
    if request.POST.get("action") == "reset" or not chosen:
        set_preference(request.user, QUEUE_COLUMNS_KEY, None)
    else:
        set_preference(request.user, QUEUE_COLUMNS_KEY, chosen)
    back = _safe_next(request, reverse("agent:queue", kwargs={"name": "mine"}))
    return HttpResponseClientRedirect(back) if request.htmx else redirect(back)


@require_POST
@agent_required
def save_filter(request: HttpRequest, name: str) -> HttpResponse:
    if name not in selectors.QUEUE_NAMES:
        raise Http404("No such queue")
    form = SavedFilterForm(request.POST)
    queue_url = reverse("agent:queue", kwargs={"name": name})
    if not form.is_valid():
        messages.error(request, error_text(form))
        return redirect(queue_url)
    query = form.cleaned_data["query"]
    stored = f"queue={name}&{query}" if query else f"queue={name}"
    SavedFilter.objects.update_or_create(
        owner=request.user, name=form.cleaned_data["name"].strip(),
        defaults={"query": stored[:1000], "is_shared": form.cleaned_data["is_shared"]},
    )
    messages.success(request, _("Filter “%(name)s” saved.") % {"name": form.cleaned_data["name"]})
    target = f"{queue_url}?{query}" if query else queue_url
    if request.htmx:
        return HttpResponseClientRedirect(target)
    return redirect(target)


# --- new ticket -----------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
@agent_required
def new_ticket(request: HttpRequest) -> HttpResponse:
    form = NewTicketForm(request.POST or None, request.FILES or None)
    custom_form = _new_ticket_custom_form(request, data=request.POST)
    status = 200
    if request.method == "POST":
        if form.is_valid() & custom_form.is_valid():
            data = form.cleaned_data
            try:
                ticket = services.create_ticket(
                    requester=data["requester"], subject=data["subject"],
                    description=data["description"], channel=data["channel"],
                    priority=data["priority"], category=data["category"],
                    product_area=data["product_area"], tags=parse_tags(data["tags"]),
                    actor=request.user, attachments=request.FILES.getlist("attachments"),
                    custom_fields={k: v for k, v in custom_form.values().items()
                                   if v is not None},
                )
            except SERVICE_ERRORS as exc:
                if not (isinstance(exc, ValidationError) and hasattr(exc, "error_dict")
                        and custom_form.add_service_errors(exc.message_dict)):
                    messages.error(request, problem(exc))
            else:
                team = ticket.team.name if ticket.team else _("no team")
                messages.success(request, _("Ticket %(ticket)s created for %(requester)s "
                                            "(%(team)s).")
                                 % {"ticket": ticket.reference,
                                    "requester": ticket.requester.display_name, "team": team})
                if selectors.visible_tickets(request.user).filter(pk=ticket.pk).exists():
                    return redirect("agent:ticket", pk=ticket.pk)
                return redirect("agent:queue", name="mine")
        status = 400
    return render(request, "tickets/agent/new_ticket.html",
                  {"form": form, "custom_form": custom_form}, status=status)


def _new_ticket_custom_form(request: HttpRequest, *, data: Any) -> CustomFieldsForm:
    """The custom fields the ticket form of the chosen category (or product area) asks an
    agent for (internal ones too); bound to `data` on a POST."""
    asked = field_definitions.asked_of_agents(parse_id(data.get("category")),
                                              parse_id(data.get("product_area")))
    return CustomFieldsForm(data if request.method == "POST" else None,
                            asked=[(a.field, a.required) for a in asked])


@require_GET
@agent_required
def new_ticket_fields(request: HttpRequest) -> HttpResponse:
    """The custom fields part of the new-ticket form, swapped in by htmx when the agent
    picks a category or product area."""
    response = render(request, "tickets/agent/_new_ticket_fields.html",
                      {"custom_form": _new_ticket_custom_form(request, data=request.GET)})
    patch_vary_headers(response, ["HX-Request"])
    return response


# --- ticket page ----------------------------------------------------------------------

def _load(request: HttpRequest, pk: int) -> Ticket:
    """The ticket with everything its page shows; 404 outside the agent's visibility."""
    return selectors.get_ticket_for(request.user, pk, detail=True)


def _transition_choices(ticket: Ticket) -> list[dict[str, Any]]:
    source = Status(ticket.status)
    out = []
    for (src, target), step in TRANSITIONS.items():
        if src != source:
            continue
        out.append({
            "to": target.value, "label": _(LABELS[target]), "name": step.name,
            "needs_reason": REASON in step.requires,
            "needs_assignee": ASSIGNEE in step.requires,
            "needs_packet": PACKET in step.requires,
        })
    return out


def _conversation_context(ticket: Ticket) -> dict[str, Any]:
    return {
        "ticket": ticket,
        "conversation": selectors.conversation(ticket, include_internal=True),
        "events": selectors.timeline(ticket, include_internal=True),
    }


def _ticket_page(request: HttpRequest, ticket: Ticket, *, status: int = 200,
                 **bound: Any) -> HttpResponse:
    """Render the ticket page; `bound` forms (after an error) replace the blank ones."""
    selected = ticket.assignee_id or request.user.pk
    # The same agent list appears in several transition forms: build its options once.
    agent_options = mark_safe("".join(  # noqa: S308 - every value is escaped
        f'<option value="{pk}"{" selected" if pk == selected else ""}>{escape(name)}</option>'
        for pk, name in agent_choices()
    ))
    escalate_form = bound.get("escalate_form") or EscalateForm(ticket=ticket)
    context = {
        **_conversation_context(ticket),
        "escalation": next(iter(ticket.escalations.all()), None),  # prefetched, newest first
        "recent": selectors.recent_tickets_of(ticket),
        "main_panels": render_panels(ticket, request, area="main"),
        "side_panels": render_panels(ticket, request, area="side"),
        "reply_form": bound.get("reply_form") or ReplyForm(ticket=ticket),
        "update_form": bound.get("update_form") or UpdateForm(ticket=ticket),
        "escalate_form": escalate_form,
        "merge_form": bound.get("merge_form") or MergeForm(),
        **_composer_context(),
        "transitions": _transition_choices(ticket),
        "can_escalate": any(t["needs_packet"] for t in _transition_choices(ticket)),
        "can_merge": request.user.has_perm("tickets.merge_ticket") and not ticket.merged_into_id,
        "agent_options": agent_options,
        "following": following.is_following(ticket, request.user),
        "now": timezone.now(),
        "presence_poll_seconds": presence.POLL_SECONDS,
        **_seen_context(ticket, bound.get("seen")),
        "send_warning": bound.get("send_warning"),
        "then_next": bound.get("then_next", False),
        **_time_context(request, ticket),
    }
    return render(request, "tickets/agent/ticket.html", context, status=status)


def _active_macros() -> list[tuple[int, str]]:
    return list(Macro.objects.filter(is_active=True).order_by("name", "id")
                .values_list("pk", "name"))


def _composer_context() -> dict[str, Any]:
    # The macros change rarely: held per process like the other configuration (dropped
    # when one is saved), so neither the page nor the composer after a send asks for them.
    return {"macros": config_cache.get("tickets.active_macros", _active_macros)}


def _seen_context(ticket: Ticket, seen: Any = None) -> dict[str, Any]:
    # The version of the ticket the page shows: every write to the conversation moves
    # updated_at, so a newer message is one created after it (no query to find it).
    version = seen or ticket.updated_at
    return {"seen_message_id": version.isoformat() if version else ""}


@require_GET
@agent_required
def ticket_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _ticket_page(request, _load(request, pk))


@require_GET
@agent_required
def conversation_view(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = selectors.get_ticket_for(request.user, pk)
    response = render(request, "tickets/agent/_conversation.html", _conversation_context(ticket))
    patch_vary_headers(response, ["HX-Request"])
    return response


def _done(request: HttpRequest, ticket: Ticket, message: str,
          target: Ticket | None = None) -> HttpResponse:
    """After a successful action: a message, then the (refreshed) ticket page."""
    messages.success(request, message)
    target = target or ticket
    url = target.get_absolute_url()
    if not selectors.visible_tickets(request.user).filter(pk=target.pk).exists():
        # e.g. escalated to a team the agent is not in: back to the queue.
        url = reverse("agent:queue", kwargs={"name": "mine"})
    elif request.htmx and target.pk == ticket.pk:
        return HttpResponseClientRefresh()
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


def _refused(request: HttpRequest, ticket: Ticket, problem: str, **bound: Any) -> HttpResponse:
    """After a refused action: nothing changed; say why and keep what the agent typed."""
    messages.error(request, problem)
    if request.htmx:
        response = render(request, "tickets/agent/_flash.html", {}, status=400)
        response["HX-Retarget"] = "#messages"
        response["HX-Reswap"] = "innerHTML"
        return response
    ticket = _load(request, ticket.pk)  # re-read: the service may have locked a newer copy
    return _ticket_page(request, ticket, status=400, **bound)


@require_POST
@agent_required
def reply(request: HttpRequest, pk: int) -> HttpResponse:
    # One transaction from the read: the ticket is read FOR UPDATE (visibility, form and
    # the service's checks under the row lock), and only what the form and the service
    # need; the ticket page is rendered (with all it shows) only after a refusal, and the
    # htmx answer is the conversation alone.
    refused = None
    with events.atomic():
        ticket = selectors.get_ticket_for(request.user, pk, for_update=True)
        form = ReplyForm(request.POST, request.FILES, ticket=ticket)
        seen = presence.parse_seen(request.POST.get("seen", ""))
        unseen = (selectors.messages_since(ticket, seen, not_by=request.user)
                  if seen is not None else [])
        if not form.is_valid():
            refused = error_text(form)
        elif unseen:
            refused = ""  # not sent: the agent reads what arrived first
        else:
            data = form.cleaned_data
            try:
                message = services.add_reply(
                    ticket, author=request.user, body=data["body"], public=form.is_public,
                    attachments=request.FILES.getlist("attachments"),
                    set_status=data["set_status"], status_reason=data["status_reason"],
                    time_minutes=data.get("time_minutes") or None, locked=True,
                )
            except SERVICE_ERRORS as exc:
                # Nothing of the reply stays: the block rolls back as a whole.
                transaction.set_rollback(True)
                refused = problem(exc)
    if unseen and refused == "":
        return _unseen_warning(request, ticket, unseen, form)
    if refused is not None:
        return _refused(request, ticket, refused, reply_form=form)
    presence.leave(ticket.pk, user_id=request.user.pk)
    sent = _("Reply sent.") if form.is_public else _("Internal note added.")
    if request.POST.get("then") == "next":
        following_ticket = selectors.next_in_queue(request.user, after=ticket)
        if following_ticket is not None:
            messages.success(request, sent)
            url = following_ticket.get_absolute_url()
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    if request.htmx and not data["set_status"]:
        # Only the conversation changed, by this one message: append it and give back an
        # empty form, instead of rendering the whole conversation again (half of the
        # request's time on a long ticket). The reply moved the ticket's version.
        messages.success(request, sent)
        ticket.updated_at = message.created_at
        # The handle time card is swapped out of band only when the reply logged time:
        # otherwise it shows what it showed.
        timed = _time_context(request, ticket) if data.get("time_minutes") else {}
        # The new composer carries the ticket's new version: the next send (and the
        # poll) compare with it, so the check before sending holds for every send.
        response = render(request, "tickets/agent/reply_partial.html", {
            "ticket": ticket, "message": message,
            # The agent stays in the mode just used: a second note is a note again.
            "reply_form": ReplyForm(ticket=ticket,
                                    initial={"visibility": data["visibility"]}),
            **timed, **_seen_context(ticket), **_composer_context(),
        })
        response["HX-Reswap"] = "none"  # only the out-of-band parts land
        return response
    return _done(request, ticket, sent)


def _unseen_warning(request: HttpRequest, ticket: Ticket, unseen: list[Any],
                   form: ReplyForm) -> HttpResponse:
    """The reply was not sent: show what arrived since the page loaded. The composer now
    counts those messages as seen, so sending again sends. To htmx a 200 that retargets
    (an error status would be a console error for what is a normal turn of events)."""
    newest = max(m.created_at for m in unseen)
    if request.htmx:
        response = render(request, "tickets/agent/send_warning_partial.html", {
            "send_warning": unseen, "seen_message_id": newest.isoformat()})
        response["HX-Retarget"] = "#send-warning"
        response["HX-Reswap"] = "innerHTML"
        return response
    return _ticket_page(request, _load(request, ticket.pk), status=409, reply_form=form,
                        send_warning=unseen, seen=newest,
                        then_next=request.POST.get("then") == "next")


@require_POST
@agent_required
def presence_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The ticket page's poll: record this agent as viewing (and typing, if the page says
    so); answer who else is here and what arrived since the page loaded."""
    ticket = selectors.get_ticket_for(request.user, pk)
    others = presence.touch(ticket.pk, user_id=request.user.pk,
                            name=request.user.display_name,
                            typing=request.POST.get("typing") == "1")
    seen = presence.parse_seen(request.POST.get("seen", ""))
    unseen = selectors.messages_since(ticket, seen, not_by=request.user) if seen else []
    response = render(request, "tickets/agent/_presence.html",
                      {"others": others, "unseen": unseen, "ticket": ticket})
    response["Cache-Control"] = "private, no-store"
    return response


@require_POST
@agent_required
def assign_me(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _load(request, pk)
    try:
        ticket = services.assign(ticket, assignee=request.user, actor=request.user)
    except SERVICE_ERRORS as exc:
        return _refused(request, ticket, problem(exc))
    return _done(request, ticket, _("Assigned to you."))


@require_POST
@agent_required
def transition(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _load(request, pk)
    form = TransitionForm(request.POST)
    if not form.is_valid():
        return _refused(request, ticket, error_text(form))
    data = form.cleaned_data
    try:
        ticket = services.transition(ticket, data["to"], actor=request.user,
                                     reason=data["reason"], assignee=data["assignee"])
    except SERVICE_ERRORS as exc:
        return _refused(request, ticket, problem(exc))
    return _done(request, ticket,
                 _("Status changed to %(status)s.") % {"status": ticket.status_label})


@require_POST
@agent_required
def update(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _load(request, pk)
    form = UpdateForm(request.POST, ticket=ticket)
    if not form.is_valid():
        return _refused(request, ticket, error_text(form), update_form=form)
    changes = form.changes()
    if not changes:
        messages.info(request, _("Nothing to change."))
        return _done_quietly(request, ticket)
    try:
        services.update_ticket(ticket, actor=request.user, changes=changes,
                               expected=form.expected())
    except services.ConflictError as exc:
        # Show the ticket as it is now: the agent sees the other change and decides.
        messages.error(request, problem(exc))
        if request.htmx:
            response = HttpResponseClientRefresh()
            response.status_code = 409
            return response
        return _ticket_page(request, _load(request, ticket.pk), status=409)
    except SERVICE_ERRORS as exc:
        return _refused(request, ticket, problem(exc), update_form=form)
    names = ", ".join(form.fields[name].label.lower() for name in changes)
    return _done(request, ticket, _("Updated %(fields)s.") % {"fields": names})


@require_POST
@agent_required
def update_custom_fields(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _load(request, pk)
    form = custom_field_panel.edit_form(ticket, request.POST)
    if not form.is_valid():
        return _refused(request, ticket, error_text(form))
    values = form.changed_values()
    if not values:
        messages.info(request, _("Nothing to change."))
        return _done_quietly(request, ticket)
    try:
        services.update_ticket(ticket, actor=request.user, changes={"custom_fields": values})
    except SERVICE_ERRORS as exc:
        return _refused(request, ticket, problem(exc))
    return _done(request, ticket, _("Fields saved."))


def _done_quietly(request: HttpRequest, ticket: Ticket) -> HttpResponse:
    if request.htmx:
        return HttpResponseClientRefresh()
    return redirect(ticket.get_absolute_url())


@require_POST
@agent_required
def escalate(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _load(request, pk)
    form = EscalateForm(request.POST, ticket=ticket)
    if not form.is_valid():
        return _refused(request, ticket, error_text(form), escalate_form=form)
    engineering = bool(form.cleaned_data.get("engineering"))
    try:
        ticket = services.escalate(
            ticket, to_team=None if engineering else form.cleaned_data["to_team"],
            packet=form.packet(), actor=request.user, engineering=engineering,
        )
    except SERVICE_ERRORS as exc:
        return _refused(request, ticket, problem(exc), escalate_form=form)
    where = _("engineering") if engineering else (ticket.team.name if ticket.team
                                                   else _("the team"))
    return _done(request, ticket,
                 _("Escalated to %(where)s with the handoff packet.") % {"where": where})


@require_POST
@agent_required
def merge(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _load(request, pk)
    form = MergeForm(request.POST)
    if not request.user.has_perm("tickets.merge_ticket"):
        return _refused(request, ticket, _("You are not allowed to merge tickets."))
    if not form.is_valid():
        return _refused(request, ticket, error_text(form), merge_form=form)
    try:
        into = selectors.get_ticket_for(request.user, form.cleaned_data["into"])
    except Http404:
        return _refused(request, ticket,
                        _("There is no ticket #%(ticket)s you can see.")
                        % {"ticket": form.cleaned_data["into"]},
                        merge_form=form)
    try:
        into = services.merge(ticket, into=into, actor=request.user)
    except SERVICE_ERRORS as exc:
        return _refused(request, ticket, problem(exc), merge_form=form)
    return _done(request, ticket, _("%(ticket)s merged into %(into)s.")
                 % {"ticket": ticket.reference, "into": into.reference},
                 target=into)


@require_POST
@agent_required
def macro(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _load(request, pk)
    form = MacroForm(request.POST)
    if not form.is_valid():
        return _refused(request, ticket, error_text(form))
    chosen = form.cleaned_data["macro"]
    try:
        services.apply_macro(ticket, chosen, actor=request.user)
    except SERVICE_ERRORS as exc:
        return _refused(request, ticket, problem(exc))
    return _done(request, ticket, _("Macro “%(name)s” applied.") % {"name": chosen.name})


# --- following and mentions -----------------------------------------------------------

@require_POST
@agent_required
def follow(request: HttpRequest, pk: int) -> HttpResponse:
    """Follow (`action=follow`) or stop following (`action=unfollow`) a visible ticket."""
    ticket = selectors.get_ticket_for(request.user, pk)
    if request.POST.get("action") == "unfollow":
        following.unfollow(ticket, user=request.user)
        now_following, said = False, _("You no longer follow this ticket.")
    else:
        following.follow(ticket, user=request.user)
        now_following, said = True, _("You follow this ticket: you hear of its replies, "
                                      "notes and status changes.")
    if request.htmx:
        return render(request, "tickets/agent/_follow.html",
                      {"ticket": ticket, "following": now_following, "said": said})
    messages.success(request, said)
    return redirect(ticket.get_absolute_url())


MENTION_LIMIT = 8


@require_GET
@agent_required
def mention_suggestions(request: HttpRequest, pk: int) -> HttpResponse:
    """Staff who can see the ticket whose username (or name) starts with `q`, as JSON:
    the completion of `@username` in the note box. Nobody else is ever listed."""
    ticket = selectors.get_ticket_for(request.user, pk)
    q = (request.GET.get("q") or "").strip().lstrip("@")[:50]
    people = selectors.staff_who_see(ticket).exclude(pk=request.user.pk)
    if q:
        people = people.filter(Q(username__istartswith=q) | Q(first_name__istartswith=q)
                               | Q(last_name__istartswith=q))
    found = people.order_by("username").only(
        "username", "first_name", "last_name")[:MENTION_LIMIT]
    response = JsonResponse({"results": [
        {"username": u.username, "name": u.display_name} for u in found]})
    response["Cache-Control"] = "private, no-store"
    return response


# --- time tracking --------------------------------------------------------------------

def _time_context(request: HttpRequest, ticket: Ticket) -> dict[str, Any]:
    timer = timetracking.running_timer(request.user)
    return {
        "handle_minutes": timetracking.handle_time(ticket),
        "my_timer": timer,
        "timer_here": timer is not None and timer.ticket_id == ticket.pk,
    }


def _timer_response(request: HttpRequest, ticket: Ticket, message: str) -> HttpResponse:
    """htmx: the refreshed timer card (and the message); otherwise back to the ticket."""
    if request.htmx:
        messages.success(request, message)
        return render(request, "tickets/agent/_timer.html",
                      {"ticket": ticket, "oob_messages": True, **_time_context(request, ticket)})
    return _done(request, ticket, message)


@require_POST
@agent_required
def timer_start(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = selectors.get_ticket_for(request.user, pk)
    try:
        timetracking.start_timer(ticket, agent=request.user)
    except SERVICE_ERRORS as exc:
        return _refused(request, ticket, problem(exc))
    return _timer_response(request, ticket, _("Timer started."))


@require_POST
@agent_required
def timer_stop(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = selectors.get_ticket_for(request.user, pk)
    try:
        entry = timetracking.stop_timer(ticket, agent=request.user)
    except SERVICE_ERRORS as exc:
        return _refused(request, ticket, problem(exc))
    return _timer_response(request, ticket, ngettext(
        "Timer stopped: %(count)s minute logged.", "Timer stopped: %(count)s minutes logged.",
        entry.minutes) % {"count": entry.minutes})

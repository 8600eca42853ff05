"""QA workspace pages: the reviewer's queue, the review page (conversation and timeline
beside the scorecard, live score preview), an agent's own reviews, disputes, coaching,
calibration sessions (blind) and the dashboard.

Views parse the request and call one service; reads go through qa.selectors. Anyone who is
not staff gets a 404, and so does anything outside the user's view (no existence leak).
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import astuple
from datetime import datetime, time, timedelta
from functools import wraps
from typing import Any

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from helpdesk.ids import parse_id
from helpdesk.models import User
from helpdesk.web import agent_required, problem
from tickets import selectors as ticket_selectors

from . import permissions, scoring, selectors, services
from .forms import (
    NOT_APPLICABLE,
    CalibrationForm,
    CoachingForm,
    DashboardForm,
    DisputeForm,
    ResolveForm,
    parse_scores,
)
from .models import PENDING_STATUSES, CalibrationItem, ReviewStatus, Scorecard
from .services import ScoreInput

PER_PAGE = 25
DASHBOARD_DAYS = 28
DASHBOARD_CACHE_SECONDS = 300

View = Callable[..., HttpResponse]


def _require(check: Callable[[Any], bool]) -> Callable[[View], View]:
    """Staff passing `check` only; everyone else gets the agent workspace's 404."""

    def decorator(view: View) -> View:
        @agent_required
        @wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not check(request.user):
                raise Http404("Not found")
            return view(request, *args, **kwargs)

        return checked

    return decorator


def _page(request: HttpRequest, qs: Any) -> Any:
    return Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))


# --- scorecard form rows ----------------------------------------------------------------------

def score_rows(card: Scorecard, data: ScoreInput) -> dict[str, Any]:
    """What the scorecard form shows: dimensions with their levels and the current picks."""
    rows = []
    for dim in card.dimensions.prefetch_related("levels"):
        na = dim.pk in data.not_applicable
        rows.append({
            "dimension": dim, "levels": list(dim.levels.all()), "na": na,
            "selected": NOT_APPLICABLE if na else data.levels.get(dim.pk),
            "comment": data.comments.get(dim.pk, ""),
        })
    return {
        "score_rows": rows,
        "auto_fail_items": list(card.auto_fail_items.all()),
        "checklist_items": list(card.checklist_items.all()),
        "picked_auto_fail": data.auto_fail,
        "picked_checklist": data.checklist,
        "summary": data.summary,
        "preview": _preview(card, data),
        "na_value": NOT_APPLICABLE,
    }


def _preview(card: Scorecard, data: ScoreInput) -> dict[str, Any]:
    try:
        result = services.evaluate(card, data).result
    except ValidationError as exc:
        return {"error": problem(exc)}
    band = None
    if result.score is not None:
        band = scoring.BAND_LABELS[scoring.band(result.score, auto_failed=result.auto_failed)]
    return {"result": result, "band": band}


@require_POST
@_require(lambda u: permissions.can_review(u) or permissions.can_calibrate(u))
def preview(request: HttpRequest, scorecard_pk: int) -> HttpResponse:
    """htmx: the score the picks so far would give (nothing is saved)."""
    card = get_object_or_404(Scorecard, pk=scorecard_pk)
    try:
        data = parse_scores(card, request.POST)
    except ValidationError as exc:
        return render(request, "qa/_score_preview.html", {"preview": {"error": problem(exc)}})
    return render(request, "qa/_score_preview.html", {"preview": _preview(card, data),
                                                      "scorecard": card})


# --- home and queues --------------------------------------------------------------------------

@require_GET
@agent_required
def index(request: HttpRequest) -> HttpResponse:
    if permissions.can_review(request.user):
        return redirect("qa:queue", name="mine")
    return redirect("qa:my_reviews")


def _nav(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    return {"qa_can_review": permissions.can_review(user),
            "qa_is_lead": permissions.is_qa_lead(user),
            "qa_can_calibrate": permissions.can_calibrate(user),
            "qa_view_all": permissions.can_view_all(user)}


@require_GET
@_require(permissions.can_review)
def queue(request: HttpRequest, name: str) -> HttpResponse:
    qs = selectors.queue(request.user, name)
    return render(request, "qa/queue.html", {
        **_nav(request), "current": name, "queues": selectors.QUEUES,
        "counts": selectors.queue_counts(request.user), "page": _page(request, qs),
    })


@require_GET
@agent_required
def my_reviews(request: HttpRequest) -> HttpResponse:
    qs = selectors.my_reviews(request.user)
    return render(request, "qa/my_reviews.html", {
        **_nav(request), "page": _page(request, qs)})


# --- the review page --------------------------------------------------------------------------

def _review_page(request: HttpRequest, review: Any, *, data: ScoreInput | None = None,
                 status: int = 200, dispute_form: DisputeForm | None = None) -> HttpResponse:
    user = request.user
    ticket = review.ticket
    scoring_mode = review.reviewer_id == user.pk and review.status in PENDING_STATUSES
    context = {
        **_nav(request),
        "review": review, "ticket": ticket, "scoring_mode": scoring_mode,
        "is_agent_view": review.agent_id == user.pk,
        "conversation": ticket_selectors.conversation(ticket, include_internal=True),
        "events": ticket_selectors.timeline(ticket, include_internal=True),
        "detail": selectors.review_detail(review),
        "dispute_form": dispute_form or DisputeForm(),
        "can_claim": (review.reviewer_id is None and review.status in PENDING_STATUSES
                      and permissions.can_review(user) and review.agent_id != user.pk),
        "can_mark_totw": permissions.is_qa_lead(user) and review.is_finished,
    }
    if scoring_mode:
        context.update(score_rows(review.scorecard, data or services.review_input(review)))
    return render(request, "qa/review.html", context, status=status)


@require_GET
@agent_required
def review_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _review_page(request, selectors.get_review_for(request.user, pk))


@require_POST
@_require(permissions.can_review)
def save_review(request: HttpRequest, pk: int) -> HttpResponse:
    """Save a draft, or submit (the button pressed says which)."""
    review = selectors.get_review_for(request.user, pk)
    try:
        data = parse_scores(review.scorecard, request.POST)
    except ValidationError as exc:
        messages.error(request, problem(exc))
        return redirect(review)
    try:
        if request.POST.get("action") == "submit":
            review = services.submit_review(review, actor=request.user, data=data)
            messages.success(request, _("Review submitted: %(score)s/100. %(agent)s has been "
                                        "told.") % {"score": review.score,
                                                    "agent": review.agent})
            return redirect("qa:queue", name="mine")
        services.save_draft(review, actor=request.user, data=data)
        messages.success(request, _("Draft saved."))
        return redirect(review)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, problem(exc))
        review = selectors.get_review_for(request.user, pk)
        return _review_page(request, review, data=data, status=400)


@require_POST
@_require(permissions.can_review)
def claim(request: HttpRequest, pk: int) -> HttpResponse:
    review = selectors.get_review_for(request.user, pk)
    try:
        services.assign_review(review, reviewer=request.user, actor=request.user)
        messages.success(request, _("The review is in your queue."))
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, problem(exc))
    return redirect(review)


@require_POST
@agent_required
def acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    review = selectors.get_review_for(request.user, pk)
    try:
        services.acknowledge(review, actor=request.user)
        messages.success(request, _("Thanks: the review is acknowledged."))
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, problem(exc))
    return redirect(review)


@require_POST
@agent_required
def raise_dispute(request: HttpRequest, pk: int) -> HttpResponse:
    review = selectors.get_review_for(request.user, pk)
    form = DisputeForm(request.POST)
    if not form.is_valid():
        return _review_page(request, review, dispute_form=form, status=400)
    try:
        services.dispute(review, actor=request.user, reason=form.cleaned_data["reason"])
        messages.success(request, _("Your dispute has been sent to your team lead."))
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, problem(exc))
    return redirect(review)


@require_POST
@_require(permissions.is_qa_lead)
def ticket_of_week(request: HttpRequest, pk: int) -> HttpResponse:
    review = selectors.get_review_for(request.user, pk)
    on = request.POST.get("on", "1") == "1"
    try:
        services.set_ticket_of_week(review, actor=request.user, on=on)
        messages.success(request, _("Ticket of the week set.") if on
                         else _("Ticket of the week removed."))
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, problem(exc))
    if request.POST.get("back") == "ticket":  # the toggle on the ticket page's QA panel
        return redirect(review.ticket.get_absolute_url())
    return redirect(review)


# --- disputes ---------------------------------------------------------------------------------

@require_GET
@_require(permissions.is_qa_lead)
def disputes(request: HttpRequest) -> HttpResponse:
    return render(request, "qa/disputes.html", {
        **_nav(request), "page": _page(request, selectors.open_disputes(request.user))})


@require_http_methods(["GET", "POST"])
@_require(permissions.is_qa_lead)
def resolve(request: HttpRequest, pk: int) -> HttpResponse:
    """A lead reads the review and the agent's objection, then keeps or revises the score."""
    review = selectors.get_review_for(request.user, pk)
    if review.status != ReviewStatus.DISPUTED and request.method == "POST":
        messages.error(request, _("This review has no open dispute."))
        return redirect(review)
    form = ResolveForm(request.POST or None)
    data = services.review_input(review)
    status = 200
    if request.method == "POST":
        try:
            data = parse_scores(review.scorecard, request.POST)
            if form.is_valid():
                outcome = form.cleaned_data["outcome"]
                services.resolve_dispute(
                    review, actor=request.user, outcome=outcome,
                    note=form.cleaned_data["note"], data=data if outcome == "revised" else None)
                messages.success(request, _("Dispute resolved; the agent has been told."))
                return redirect("qa:disputes")
            status = 400
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, problem(exc))
            status = 400
    return render(request, "qa/resolve.html", {
        **_nav(request), "review": review, "ticket": review.ticket, "form": form,
        "detail": selectors.review_detail(review),
        "conversation": ticket_selectors.conversation(review.ticket, include_internal=True),
        "events": ticket_selectors.timeline(review.ticket, include_internal=True),
        **score_rows(review.scorecard, data),
    }, status=status)


# --- from the ticket page -----------------------------------------------------------------------

@require_POST
@_require(permissions.is_qa_lead)
def flag(request: HttpRequest, ticket_pk: int) -> HttpResponse:
    ticket = ticket_selectors.get_ticket_for(request.user, ticket_pk)
    services.flag_ticket(ticket, actor=request.user, note=request.POST.get("note", ""))
    messages.success(request, _("Flagged for the next QA sample."))
    return redirect(ticket.get_absolute_url())


@require_POST
@_require(permissions.can_review)
def start_review(request: HttpRequest, ticket_pk: int) -> HttpResponse:
    ticket = ticket_selectors.get_ticket_for(request.user, ticket_pk)
    try:
        review = services.create_review(ticket=ticket, actor=request.user)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, problem(exc))
        return redirect(ticket.get_absolute_url())
    return redirect(review)


# --- coaching -----------------------------------------------------------------------------------

@require_GET
@agent_required
def coaching_list(request: HttpRequest) -> HttpResponse:
    qs = selectors.coaching_for(request.user)
    return render(request, "qa/coaching_list.html", {
        **_nav(request), "page": _page(request, qs)})


@require_GET
@agent_required
def coaching_detail(request: HttpRequest, pk: int) -> HttpResponse:
    item = selectors.coaching_for(request.user).filter(pk=pk).first()
    if item is None:
        raise Http404("No such coaching record")
    reviews = selectors.with_list_relations(item.reviews.all())
    return render(request, "qa/coaching_detail.html", {
        **_nav(request), "item": item, "reviews": reviews})


@require_http_methods(["GET", "POST"])
@_require(permissions.is_qa_lead)
def coaching_new(request: HttpRequest) -> HttpResponse:
    agent = None
    if (agent_id := parse_id(request.GET.get("agent"))) is not None:
        agent = User.objects.filter(pk=agent_id).first()
    initial = {"held_on": timezone.localdate(), "agent": agent}
    form = CoachingForm(request.POST or None, coach=request.user, agent=agent, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            item = services.record_coaching(
                agent=d["agent"], coach=request.user, held_on=d["held_on"],
                strengths=d["strengths"], development_focus=d["development_focus"],
                goals=d["goals"], follow_up_on=d["follow_up_on"], notes=d["notes"],
                reviews=d["reviews"])
            messages.success(request, _("Coaching record saved; the agent can read it."))
            return redirect("qa:coaching_detail", pk=item.pk)
        except (ValidationError, PermissionDenied) as exc:
            form.add_error(None, problem(exc))
    return render(request, "qa/coaching_form.html", {**_nav(request), "form": form},
                  status=400 if form.is_bound and form.errors else 200)


# --- calibration --------------------------------------------------------------------------------

@require_GET
@agent_required
def calibration_list(request: HttpRequest) -> HttpResponse:
    qs = selectors.calibration_sessions(request.user)
    if not (permissions.can_calibrate(request.user) or qs.exists()):
        raise Http404("Not found")
    return render(request, "qa/calibration_list.html", {
        **_nav(request), "page": _page(request, qs),
        "drift": selectors.reviewer_drift() if permissions.can_view_all(request.user) else [],
    })


@require_http_methods(["GET", "POST"])
@_require(permissions.can_calibrate)
def calibration_new(request: HttpRequest) -> HttpResponse:
    form = CalibrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        tickets = None
        if d["tickets"]:
            visible = ticket_selectors.visible_tickets(request.user)
            tickets = list(visible.filter(pk__in=d["tickets"]))
            missing = set(d["tickets"]) - {t.pk for t in tickets}
            if missing:
                form.add_error("tickets", _("No such ticket: %(numbers)s") % {
                    "numbers": ", ".join(map(str, sorted(missing)))})
        if not form.errors:
            try:
                session = services.start_calibration(
                    title=d["title"], facilitator=request.user,
                    participants=d["participants"], tickets=tickets)
                messages.success(request, _("Session started: participants score blind."))
                return redirect(session)
            except (ValidationError, PermissionDenied) as exc:
                form.add_error(None, problem(exc))
    return render(request, "qa/calibration_form.html", {**_nav(request), "form": form},
                  status=400 if form.is_bound and form.errors else 200)


@require_GET
@agent_required
def calibration_view(request: HttpRequest, pk: int) -> HttpResponse:
    session = selectors.get_session_for(request.user, pk)
    results = selectors.calibration_results(session, request.user)
    return render(request, "qa/calibration.html", {
        **_nav(request), "session": session, "results": results,
        "is_facilitator": session.facilitator_id == request.user.pk,
        "is_participant": session.participants.filter(pk=request.user.pk).exists(),
        "participants": list(session.participants.all()),
        "all_agreed": all(r.item.agreed_score is not None for r in results),
    })


def _item_for(request: HttpRequest, pk: int, item_pk: int) -> tuple[Any, CalibrationItem]:
    session = selectors.get_session_for(request.user, pk)
    item = session.items.select_related("ticket").filter(pk=item_pk).first()
    if item is None:
        raise Http404("No such ticket in this session")
    return session, item


@require_http_methods(["GET", "POST"])
@agent_required
def calibration_item(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    """One calibration ticket: its conversation beside the blind scorecard, or (once you
    have scored) everyone's scores with their spread, and the facilitator's agreed score."""
    session, item = _item_for(request, pk, item_pk)
    user = request.user
    status = 200
    data = ScoreInput()
    if request.method == "POST":
        try:
            data = parse_scores(session.scorecard, request.POST)
            if request.POST.get("action") == "agree":
                services.record_agreed_score(item, actor=user, data=data,
                                             notes=request.POST.get("notes", ""))
                messages.success(request, _("Agreed score recorded."))
            else:
                services.submit_calibration_score(item, reviewer=user, data=data)
                messages.success(request, _("Score submitted: you can now compare."))
            return redirect("qa:calibration_item", pk=session.pk, item_pk=item.pk)
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, problem(exc))
            status = 400
    result = next(r for r in selectors.calibration_results(session, user)
                  if r.item.pk == item.pk)
    is_participant = session.participants.filter(pk=user.pk).exists()
    is_facilitator = session.facilitator_id == user.pk
    open_ = session.status == session.Status.OPEN
    can_score = open_ and is_participant and result.my_score is None
    can_agree = open_ and is_facilitator and result.visible and result.submitted > 0
    context = {
        **_nav(request), "session": session, "item": item, "ticket": item.ticket,
        "result": result, "can_score": can_score, "can_agree": can_agree,
        "conversation": ticket_selectors.conversation(item.ticket, include_internal=True),
        "events": ticket_selectors.timeline(item.ticket, include_internal=True),
    }
    if can_score or can_agree:
        context.update(score_rows(session.scorecard, data))
    return render(request, "qa/calibration_item.html", context, status=status)


@require_POST
@_require(permissions.can_calibrate)
def calibration_close(request: HttpRequest, pk: int) -> HttpResponse:
    session = selectors.get_session_for(request.user, pk)
    try:
        services.close_calibration(session, actor=request.user,
                                   notes=request.POST.get("notes", ""))
        messages.success(request, _("Session closed."))
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, problem(exc))
    return redirect(session)


# --- dashboard ----------------------------------------------------------------------------------

def _dashboard_figures(filters: selectors.DashboardFilters, today: Any) -> dict[str, Any]:
    """The dashboard's figures, the same for every QA viewer, kept for a few minutes like
    the other dashboards (a dozen aggregates and the per-agent trends)."""
    key = "qa:dashboard:" + hashlib.sha256(
        repr((astuple(filters), today)).encode()).hexdigest()
    figures = cache.get(key)
    if figures is None:
        figures = {**selectors.dashboard(filters, today=today), "computed_at": timezone.now()}
        cache.set(key, figures, DASHBOARD_CACHE_SECONDS)
    return figures


@require_GET
@_require(permissions.can_view_all)
def dashboard(request: HttpRequest) -> HttpResponse:
    form = DashboardForm(request.GET or None, dimensions=selectors.dimension_names())
    today = timezone.localdate()
    start_day, end_day = today - timedelta(days=DASHBOARD_DAYS - 1), today
    team_id, dimension = None, ""
    if form.is_bound and form.is_valid():
        d = form.cleaned_data
        start_day = d.get("start") or start_day
        end_day = d.get("end") or max(end_day, start_day)
        team_id = d["team"].pk if d.get("team") else None
        dimension = d.get("dimension") or ""
    zone = timezone.get_current_timezone()
    filters = selectors.DashboardFilters(
        start=datetime.combine(start_day, time.min, tzinfo=zone),
        end=datetime.combine(end_day + timedelta(days=1), time.min, tzinfo=zone),
        team_id=team_id, dimension=dimension)
    figures = _dashboard_figures(filters, today)
    return render(request, "qa/dashboard.html", {
        **_nav(request), "form": form, "figures": figures, "start": start_day, "end": end_day,
        "computed_at": figures["computed_at"], "cache_minutes": DASHBOARD_CACHE_SECONDS // 60,
        "dimension": dimension, "ticket_of_week": selectors.with_list_relations(
            selectors.visible_reviews(request.user).filter(is_ticket_of_week=True)
            .order_by("-updated_at"))[:5],
    })


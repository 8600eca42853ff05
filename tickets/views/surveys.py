"""Survey pages: the public answer pages behind a signed link, and the lead's follow-ups.

The answer pages need no login: the survey comes from the signed token, never from the
URL, so a link cannot rate another ticket. A one-click rating (GET) is recorded only when
the survey has no rating yet — mail scanners prefetch links, so a GET never overwrites —
and the page that follows confirms or changes it by POST, with an optional comment and NPS.
"""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from helpdesk.web import agent_required

from .. import surveys
from ..models import FollowUp, Survey

RATING_LABELS = {1: gettext_lazy("Very dissatisfied"), 2: gettext_lazy("Dissatisfied"),
                 3: gettext_lazy("Neutral"), 4: gettext_lazy("Satisfied"),
                 5: gettext_lazy("Very satisfied")}


def _link_problem(request: HttpRequest, exc: surveys.SurveyLinkError) -> HttpResponse:
    return render(request, "tickets/surveys/link_problem.html",
                  {"message": str(exc), "expired": exc.status == 410}, status=exc.status)


def _form_context(survey: Survey, *, selected: int | None, errors: dict | None = None,
                  **extra) -> dict:
    return {
        "survey": survey,
        "selected": selected,
        "ratings": [(n, RATING_LABELS[n]) for n in range(1, 6)],
        "nps_scale": range(0, 11),
        "errors": errors or {},
        **extra,
    }


def _int_or_none(value: str | None) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        return -1  # rejected by the service with a clear message


@never_cache
@require_GET
def rate(request: HttpRequest, token: str, score: int) -> HttpResponse:
    try:
        survey = surveys.survey_from_token(token)
        survey, recorded = surveys.record_click(survey, score)
    except surveys.SurveyLinkError as exc:
        return _link_problem(request, exc)
    except ValidationError as exc:
        return _link_problem(request, surveys.SurveyLinkError(" ".join(exc.messages),
                                                              status=410))
    return render(request, "tickets/surveys/feedback.html", _form_context(
        survey, selected=score, token=token, clicked=score, recorded=recorded))


@never_cache
@require_http_methods(["GET", "POST"])
def feedback(request: HttpRequest, token: str) -> HttpResponse:
    try:
        survey = surveys.survey_from_token(token)
    except surveys.SurveyLinkError as exc:
        return _link_problem(request, exc)
    if request.method == "GET":
        return render(request, "tickets/surveys/feedback.html",
                      _form_context(survey, selected=survey.rating, token=token))
    rating = _int_or_none(request.POST.get("rating"))
    nps = _int_or_none(request.POST.get("nps"))
    try:
        survey = surveys.record_feedback(survey, rating=rating, nps=nps,
                                         comment=request.POST.get("comment", ""))
    except ValidationError as exc:
        errors = dict(exc.message_dict) if hasattr(exc, "error_dict") else {}
        general = errors.pop("__all__", []) + ([] if errors else exc.messages)
        errors["general"] = general
        return render(request, "tickets/surveys/feedback.html", _form_context(
            survey, selected=rating if rating in RATING_LABELS else survey.rating,
            token=token, errors=errors, comment=request.POST.get("comment", "")), status=400)
    return render(request, "tickets/surveys/thanks.html", {"survey": survey})


@agent_required
@require_GET
def follow_ups(request: HttpRequest) -> HttpResponse:
    page = Paginator(surveys.open_follow_ups(request.user), 50).get_page(request.GET.get("page"))
    return render(request, "tickets/surveys/follow_ups.html", {"page": page})


@agent_required
@require_POST
def handle_follow_up(request: HttpRequest, pk: int) -> HttpResponse:
    follow_up = get_object_or_404(FollowUp.objects.select_related("survey", "ticket"), pk=pk)
    try:
        surveys.handle_follow_up(follow_up, actor=request.user,
                                 outcome=request.POST.get("outcome", ""))
    except PermissionDenied as exc:
        raise Http404("Not found") from exc
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, gettext("Follow-up of ticket #%(ticket)s handled.")
                         % {"ticket": follow_up.ticket_id})
    return redirect("surveys:follow_ups")

"""On-call pages for agents: rotations with who is on call, a rotation's plan, overrides and
swaps (leads and managers), the pages log, acknowledging a page, the iCalendar download.

Anyone who is not an agent gets a 404, like the rest of the agent workspace. Writes go
through workforce.services.oncall.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dates import WEEKDAYS  # lazily translated names, Monday = 0
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from helpdesk import formats as display
from helpdesk.models import User
from helpdesk.web import LongSelect, agent_required, problem

from . import selectors
from .models import OnCallOverride, OnCallRole, Page, Rotation
from .services import oncall as svc

PLAN_WEEKS = 8
PAGES_PER_PAGE = 50
ICAL_WEEKS = 12


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class OverrideForm(forms.Form):
    """Times are read in the rotation's time zone."""

    role = forms.ChoiceField(choices=OnCallRole.choices, label=gettext_lazy("Role"))
    # Every staff member (hundreds at scale): written directly, not a template per option.
    user = forms.ModelChoiceField(queryset=User.objects.none(),
                                  label=gettext_lazy("Covered by"), widget=LongSelect)
    starts_at = forms.DateTimeField(widget=LocalDateTimeInput, label=gettext_lazy("From"))
    ends_at = forms.DateTimeField(widget=LocalDateTimeInput, label=gettext_lazy("Until"))
    reason = forms.CharField(max_length=200, required=False, label=gettext_lazy("Reason"))

    def __init__(self, *args: Any, rotation: Rotation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rotation = rotation
        # The options need the names only (a few hundred users).
        self.fields["user"].queryset = selectors.staff().only(
            "pk", "username", "first_name", "last_name")
        for name, f in self.fields.items():
            f.widget.attrs.setdefault("id", f"override_{name}")

    def _local(self, value: datetime) -> datetime:
        naive = timezone.make_naive(value) if timezone.is_aware(value) else value
        return naive.replace(tzinfo=svc.handoffs(self.rotation).zone)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for key in ("starts_at", "ends_at"):
            if data.get(key):
                data[key] = self._local(data[key])
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            raise ValidationError(_("The override must end after it starts."))
        return data


class SwapForm(forms.Form):
    role = forms.ChoiceField(choices=OnCallRole.choices, label=gettext_lazy("Role"))
    week_a = forms.TypedChoiceField(coerce=int, label=gettext_lazy("Turn"))
    week_b = forms.TypedChoiceField(coerce=int, label=gettext_lazy("Swapped with turn"))
    reason = forms.CharField(max_length=200, required=False, label=gettext_lazy("Reason"))

    def __init__(self, *args: Any, plan: list[svc.Turn], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        nobody = _("nobody")
        choices = [(t.week, f"{display.date_format(timezone.localtime(t.starts_at))} – "
                            f"{t.scheduled_primary or nobody} / "
                            f"{t.scheduled_secondary or nobody}") for t in plan]
        self.fields["week_a"].choices = choices
        self.fields["week_b"].choices = choices
        for name, f in self.fields.items():
            f.widget.attrs.setdefault("id", f"swap_{name}")


def _rotation(pk: int) -> Rotation:
    return get_object_or_404(Rotation.objects.select_related("team"), pk=pk)


@require_GET
@agent_required
def rotations(request: HttpRequest) -> HttpResponse:
    """Every rotation: who is on call now and next, and the next weeks (a few queries per
    rotation; rotations are few)."""
    now = timezone.now()
    rows = []
    for rot in selectors.rotations():
        plan = svc.upcoming_turns(rot, weeks=PLAN_WEEKS + 1, at=now)
        current = plan[0] if plan and plan[0].starts_at <= now else None
        upcoming = plan[1:] if current else plan[:PLAN_WEEKS]
        rows.append({"rotation": rot, "current": current,
                     "next": upcoming[0] if upcoming else None,
                     "plan": plan[:PLAN_WEEKS], "handoff_day": WEEKDAYS[rot.handoff_weekday]})
    return render(request, "workforce/oncall/rotations.html", {"rows": rows, "now": now})


def _detail_context(request: HttpRequest, rot: Rotation, **forms_: Any) -> dict[str, Any]:
    now = timezone.now()
    plan = svc.upcoming_turns(rot, weeks=PLAN_WEEKS, at=now)
    overrides = selectors.active_overrides(rot, now)
    pages = Paginator(selectors.page_log(rot), PAGES_PER_PAGE).get_page(request.GET.get("page"))
    can_manage = svc.can_manage(request.user)
    paged = selectors.pages_this_turn(rot, at=now)
    return {
        "rotation": rot, "now": now, "plan": plan, "handoff_day": WEEKDAYS[rot.handoff_weekday],
        "current": plan[0] if plan and plan[0].starts_at <= now else None,
        "overrides": overrides, "page_obj": pages, "pages": pages.object_list,
        "can_manage": can_manage,
        "members": [(m.user, paged.get(m.user_id, 0))
                    for m in rot.members.select_related("user").order_by("position")],
        "policies": rot.escalation_policies.prefetch_related("steps__user"),
        "override_form": forms_.get("override_form") or (
            OverrideForm(rotation=rot) if can_manage else None),
        "swap_form": forms_.get("swap_form") or (SwapForm(plan=plan) if can_manage else None),
    }


@require_GET
@agent_required
def rotation(request: HttpRequest, pk: int) -> HttpResponse:
    rot = _rotation(pk)
    return render(request, "workforce/oncall/rotation.html", _detail_context(request, rot))


def _manager_only(request: HttpRequest) -> None:
    if not svc.can_manage(request.user):
        raise PermissionDenied(_("Only team leads and managers can change the on-call plan."))


@require_POST
@agent_required
def add_override(request: HttpRequest, pk: int) -> HttpResponse:
    rot = _rotation(pk)
    _manager_only(request)
    form = OverrideForm(request.POST, rotation=rot)
    if form.is_valid():
        d = form.cleaned_data
        try:
            svc.add_override(rot, role=d["role"], user=d["user"], starts_at=d["starts_at"],
                             ends_at=d["ends_at"], reason=d["reason"], actor=request.user)
        except (ValidationError, PermissionDenied) as exc:
            form.add_error(None, problem(exc))
        else:
            messages.success(request, _("%(user)s covers the role “%(role)s” from %(time)s.") % {
                "user": d["user"], "role": OnCallRole(d["role"]).label,
                "time": display.date_format(timezone.localtime(d["starts_at"]),
                                           "SHORT_DATETIME_FORMAT")})
            return redirect("workforce_oncall:rotation", pk=rot.pk)
    return render(request, "workforce/oncall/rotation.html",
                  _detail_context(request, rot, override_form=form), status=400)


@require_POST
@agent_required
def swap(request: HttpRequest, pk: int) -> HttpResponse:
    rot = _rotation(pk)
    _manager_only(request)
    plan = svc.upcoming_turns(rot, weeks=PLAN_WEEKS)
    form = SwapForm(request.POST, plan=plan)
    if form.is_valid():
        d = form.cleaned_data
        try:
            first, second = svc.swap_turns(rot, week_a=d["week_a"], week_b=d["week_b"],
                                           role=d["role"], reason=d["reason"],
                                           actor=request.user)
        except (ValidationError, PermissionDenied) as exc:
            form.add_error(None, problem(exc))
        else:
            messages.success(request, _("Swapped: %(first)s and %(second)s.")
                             % {"first": first.user, "second": second.user})
            return redirect("workforce_oncall:rotation", pk=rot.pk)
    return render(request, "workforce/oncall/rotation.html",
                  _detail_context(request, rot, swap_form=form), status=400)


@require_POST
@agent_required
def remove_override(request: HttpRequest, pk: int, override_pk: int) -> HttpResponse:
    rot = _rotation(pk)
    _manager_only(request)
    override = get_object_or_404(OnCallOverride, pk=override_pk, rotation=rot)
    svc.remove_override(override, actor=request.user)
    messages.success(request, _("Override removed."))
    return redirect("workforce_oncall:rotation", pk=rot.pk)


@require_POST
@agent_required
def acknowledge(request: HttpRequest, page_pk: int) -> HttpResponse:
    page = get_object_or_404(Page.objects.select_related("rotation"), pk=page_pk)
    if page.user_id != request.user.pk:
        raise Http404("No such page.")
    svc.acknowledge(page, user=request.user)
    messages.success(request, _("Page acknowledged: escalation stopped."))
    return redirect("workforce_oncall:rotation", pk=page.rotation_id)


@require_GET
@agent_required
def ical(request: HttpRequest, pk: int) -> HttpResponse:
    rot = _rotation(pk)
    body = svc.ical(rot, weeks=ICAL_WEEKS)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="oncall-{rot.pk}.ics"'
    return response

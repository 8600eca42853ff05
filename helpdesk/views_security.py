"""Two-factor enrolment and sign-in, recovery codes, re-authentication, and the audit log."""
from __future__ import annotations

import base64
from datetime import date

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp import match_token
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from .csv_export import csv_response
from .models import AuditEntry
from .security import has_device, mark_otp_passed, mark_reauthenticated

RECOVERY_CODES = 10


class CodeForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Code"), max_length=16, widget=forms.TextInput(
        attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
        help_text=gettext_lazy("The 6-digit code from your authenticator app, or a recovery "
                               "code."))


class ReauthForm(forms.Form):
    password = forms.CharField(label=gettext_lazy("Password"), required=False,
                               widget=forms.PasswordInput(attrs={"autofocus": True}))
    code = forms.CharField(label=gettext_lazy("Or a two-factor code"), required=False,
                           max_length=16,
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}))


def _next(request: HttpRequest, default: str = "/") -> str:
    target = request.POST.get("next") or request.GET.get("next") or default
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return target
    return default


def _new_recovery_codes(user) -> list[str]:
    """Replace the user's recovery codes with fresh ones; each works once."""
    device, _ = StaticDevice.objects.get_or_create(user=user, name="recovery",
                                                   defaults={"confirmed": True})
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=c) for c in codes)
    return codes


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator app: scan the key, confirm with one code, get recovery codes."""
    if has_device(request.user) and not request.user.is_verified():
        return redirect("two_factor_verify")  # a second enrolment must not bypass the first
    device = TOTPDevice.objects.filter(user=request.user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=request.user, name="authenticator",
                                           confirmed=False)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["code"].strip()):
            with transaction.atomic():
                TOTPDevice.objects.filter(user=request.user, confirmed=True).delete()
                device.confirmed = True
                device.save()
                codes = _new_recovery_codes(request.user)
            otp_login(request, device)
            mark_otp_passed(request)
            return render(request, "helpdesk/two_factor_codes.html",
                          {"codes": codes, "next": _next(request)})
        form.add_error("code", _("That code is not right. Check the clock of your device."))
    secret = base64.b32encode(device.bin_key).decode()
    return render(request, "helpdesk/two_factor_setup.html", {
        "form": form, "secret": secret, "config_url": device.config_url,
        "next": _next(request)})


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """The second step of signing in: a TOTP code or one recovery code."""
    if not has_device(request.user):
        return redirect("two_factor_setup")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = match_token(request.user, form.cleaned_data["code"].strip().replace(" ", ""))
        if device is not None:
            otp_login(request, device)
            mark_otp_passed(request)
            return redirect(_next(request))
        form.add_error("code", _("That code is not right."))
    return render(request, "helpdesk/two_factor_verify.html",
                  {"form": form, "next": _next(request)})


@login_required
@require_http_methods(["POST"])
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """New recovery codes (the old ones stop working); needs a verified session."""
    if not request.user.is_verified():
        return redirect("two_factor_verify")
    return render(request, "helpdesk/two_factor_codes.html",
                  {"codes": _new_recovery_codes(request.user), "next": "/"})


@login_required
@require_http_methods(["GET", "POST"])
def reauthenticate(request: HttpRequest) -> HttpResponse:
    """Confirm it is still you before a sensitive action: password or a second factor."""
    form = ReauthForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        password, code = form.cleaned_data["password"], form.cleaned_data["code"].strip()
        if code and match_token(request.user, code) is not None:
            mark_otp_passed(request)
            return redirect(_next(request))
        if password and request.user.has_usable_password() \
                and request.user.check_password(password):
            mark_reauthenticated(request)
            return redirect(_next(request))
        form.add_error(None, _("That did not match. Enter your password or a current code."))
    return render(request, "helpdesk/reauthenticate.html", {"form": form, "next": _next(request)})


# --- audit log -------------------------------------------------------------------------


def _audit_entries(request: HttpRequest):
    if not request.user.is_authenticated or not request.user.has_perm(
            "helpdesk.view_auditentry"):
        raise Http404("Not found")  # as everywhere: no sign that the page exists
    qs = AuditEntry.objects.select_related(None).order_by("-at", "-id")
    params = request.GET
    if params.get("model"):
        qs = qs.filter(model=params["model"])
    if params.get("action"):
        qs = qs.filter(action=params["action"])
    if params.get("object_id"):
        qs = qs.filter(object_id=params["object_id"][:64])
    if params.get("actor", "").isdecimal():
        qs = qs.filter(actor_id=int(params["actor"]))
    for key, lookup in (("since", "at__date__gte"), ("until", "at__date__lte")):
        try:
            day = date.fromisoformat(params.get(key, "")[:10])
        except ValueError:
            continue  # absent or not a date: no bound
        qs = qs.filter(**{lookup: day})
    return qs


@login_required
@require_http_methods(["GET"])
def audit_log(request: HttpRequest) -> HttpResponse:
    """Every change of a policy or a person, newest first; read-only for everyone."""
    qs = _audit_entries(request)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    models = AuditEntry.objects.order_by().values_list("model", flat=True).distinct()
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "helpdesk/audit_log.html", {
        "page": page, "models": sorted(models), "actions": AuditEntry.Action.choices,
        "filters": request.GET, "query": query.urlencode()})


@login_required
@require_http_methods(["GET"])
def audit_log_csv(request: HttpRequest) -> HttpResponse:
    qs = _audit_entries(request)
    rows = ((e.at.isoformat(), e.actor_label, e.action, e.model, e.object_id, e.object_repr,
             field, before, after)
            for e in qs.iterator(chunk_size=2000)
            for field, (before, after) in (e.changes or {"": [None, None]}).items())
    return csv_response("audit-log", ["at", "actor", "action", "model", "object_id",
                                      "object", "field", "before", "after"], rows)

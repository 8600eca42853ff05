"""Pages of the privacy admins: ask for an export or an erasure, approve one, download."""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from helpdesk.models import User
from helpdesk.web import problem

from . import services
from .export import download_token, expires_at, request_for_token
from .models import PrivacyRequest


class PersonForm(forms.Form):
    person = forms.CharField(label=gettext_lazy("Person (e-mail or username)"), max_length=254)
    reason = forms.CharField(label=gettext_lazy("Reason / reference of the request"),
                             max_length=200, required=False)

    def clean_person(self) -> User:
        value = self.cleaned_data["person"].strip()
        matches = list(User.objects.filter(Q(username=value) | Q(email__iexact=value))[:2])
        if len(matches) != 1:
            raise ValidationError(_("No single person has that e-mail or username."))
        return matches[0]


def _privacy_admin(request: HttpRequest) -> None:
    if not request.user.has_perm(services.PERM):
        raise Http404("Not found")  # as everywhere: no sign that the page exists


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    _privacy_admin(request)
    requests = list(PrivacyRequest.objects.select_related("requested_by", "approved_by")[:100])
    for item in requests:
        if item.kind == PrivacyRequest.Kind.EXPORT and item.state == PrivacyRequest.State.READY:
            item.download_url = f"/privacy/download/{download_token(item)}/"
            item.expires_at = expires_at(item)
    return render(request, "privacy/index.html", {"requests": requests, "form": PersonForm()})


@login_required
@require_POST
def request_export(request: HttpRequest) -> HttpResponse:
    _privacy_admin(request)
    form = PersonForm(request.POST)
    if form.is_valid():
        services.request_export(subject=form.cleaned_data["person"], actor=request.user,
                                reason=form.cleaned_data["reason"])
        messages.success(request, _("Export queued: its download link appears below when ready."))
    else:
        messages.error(request, " ".join(form.errors.get("person", [_("Check the form.")])))
    return redirect("privacy:index")


@login_required
@require_POST
def request_erasure(request: HttpRequest) -> HttpResponse:
    _privacy_admin(request)
    form = PersonForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("person", [_("Check the form.")])))
        return redirect("privacy:index")
    try:
        services.request_erasure(subject=form.cleaned_data["person"], actor=request.user,
                                 reason=form.cleaned_data["reason"])
    except ValidationError as exc:
        messages.error(request, problem(exc))
    else:
        messages.success(request, _("Erasure requested: a second admin must approve it."))
    return redirect("privacy:index")


@login_required
@require_POST
def approve_erasure(request: HttpRequest, pk: int) -> HttpResponse:
    _privacy_admin(request)
    item = get_object_or_404(PrivacyRequest, pk=pk, kind=PrivacyRequest.Kind.ERASURE)
    try:
        services.approve_erasure(item, approver=request.user)
    except ValidationError as exc:
        messages.error(request, problem(exc))
    else:
        messages.success(request, _("Approved: the erasure runs now and cannot be undone."))
    return redirect("privacy:index")


@login_required
@require_GET
def progress(request: HttpRequest, pk: int) -> JsonResponse:
    _privacy_admin(request)
    item = get_object_or_404(PrivacyRequest, pk=pk)
    return JsonResponse({"state": item.state, "progress": item.progress})


@login_required
@require_GET
def download(request: HttpRequest, token: str) -> HttpResponse:
    """The ZIP, once: the person themself or a privacy admin, with a genuine, fresh link."""
    item = request_for_token(token)
    if item is None or not (request.user.pk == item.subject_id
                            or request.user.has_perm(services.PERM)):
        raise Http404("Not found")
    try:
        name = services.take_download(item, actor=request.user)
    except ValidationError:
        return HttpResponse("This export has already been downloaded or has expired.",
                            status=410, content_type="text/plain")
    handle = default_storage.open(name, "rb")
    data = handle.read()
    handle.close()
    default_storage.delete(name)  # downloadable once: the file goes with the first fetch
    response = FileResponse(iter([data]), content_type="application/zip", as_attachment=True,
                            filename=f"personal-data-{item.subject_label.replace(' #', '-')}.zip")
    response["Cache-Control"] = "no-store"
    return response

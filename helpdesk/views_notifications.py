"""The notification inbox: the bell's unread count, the list, marking as read, and
the signed-in user's own delivery preferences.

Each user sees only their own notifications and preferences; anyone else's is a 404.
"""
from __future__ import annotations

import zoneinfo

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.core.validators import MaxValueValidator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import notifications
from .models import Notification, NotificationPreference, User

PER_PAGE = 25
# htmx stops polling when a poll answers 286: a signed-out tab stops asking.
HTMX_STOP_POLLING = 286
# Sent after a change so the bell refreshes at once (hx-trigger "... from:body").
CHANGED_EVENT = "notificationsChanged"


@require_GET
@never_cache
def bell(request: HttpRequest) -> HttpResponse:
    """The bell's count (one COUNT on the partial unread index), polled by htmx."""
    if not request.user.is_authenticated:
        return HttpResponse(status=HTMX_STOP_POLLING)
    return render(request, "helpdesk/notifications_bell_count.html",
                  {"unread": notifications.unread_count(request.user)})


@require_GET
@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    """Newest first, paged; `?unread=1` shows only the unread ones."""
    unread_only = request.GET.get("unread") == "1"
    qs = Notification.objects.filter(recipient=request.user).only(
        "id", "title", "body", "url", "urgent", "created_at", "read_at", "recipient_id")
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    page = Paginator(qs.order_by("-created_at", "-id"), PER_PAGE).get_page(
        request.GET.get("page"))
    items = list(page.object_list)
    for note in items:
        note.safe_url = _safe_url(request, note.url)
    return render(request, "helpdesk/notifications.html", {
        "page_obj": page,
        "notifications": items,
        "unread_only": unread_only,
        "unread": notifications.unread_count(request.user),
        "next_url": request.get_full_path(),
    })


@require_POST
@login_required
def mark_read(request: HttpRequest, pk: int) -> HttpResponse:
    note = Notification.objects.filter(pk=pk, recipient=request.user).first()
    if note is None:
        raise Http404("No such notification.")
    notifications.mark_read(request.user, [note.pk])
    if request.htmx:
        note.refresh_from_db(fields=["read_at"])
        note.safe_url = _safe_url(request, note.url)
        response = render(request, "helpdesk/notifications_row.html", {"n": note})
        response["HX-Trigger"] = CHANGED_EVENT
        return response
    return _back(request)


@require_POST
@login_required
def mark_all_read(request: HttpRequest) -> HttpResponse:
    notifications.mark_read(request.user)
    return _back(request)


def _safe_url(request: HttpRequest, url: str) -> str:
    """The link of a notification, only if it stays on this site."""
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
        return url
    return ""


def _back(request: HttpRequest) -> HttpResponse:
    return redirect(_safe_url(request, request.POST.get("next", ""))
                    or reverse("notifications:list"))


# --- preferences ----------------------------------------------------------------------

MAX_DIGEST_MINUTES = 24 * 60


class PreferenceForm(forms.ModelForm):
    muted = forms.CharField(
        label=gettext_lazy("Muted sources"), required=False, max_length=1000,
        help_text=gettext_lazy(
            "Comma-separated, e.g. sla.level, tickets. A prefix mutes all its kinds "
            "(sla mutes sla.level and sla.breach). Urgent (P1, SEV1) notifications "
            "are never muted."),
    )

    class Meta:
        model = NotificationPreference
        fields = ("email_enabled", "in_app_enabled", "quiet_start", "quiet_end",
                  "digest_minutes", "unassigned_replies")
        labels = {
            "email_enabled": gettext_lazy("Send me e-mail"),
            "in_app_enabled": gettext_lazy("Show notifications in the bell"),
            "quiet_start": gettext_lazy("Quiet hours from"),
            "quiet_end": gettext_lazy("Quiet hours until"),
            "digest_minutes": gettext_lazy("E-mail digest every (minutes)"),
            "unassigned_replies": gettext_lazy("Tell me when a customer answers an unassigned "
                                               "ticket of my teams"),
        }
        help_texts = {
            "digest_minutes": gettext_lazy("0 sends each notification on its own. With e.g. 60, "
                                           "one e-mail an hour lists what changed; urgent (P1) "
                                           "ones still come at once."),
        }
        widgets = {
            "quiet_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }

    def __init__(self, *args, staff: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        digest = self.fields["digest_minutes"]
        digest.validators.append(MaxValueValidator(MAX_DIGEST_MINUTES))
        digest.widget.attrs["max"] = MAX_DIGEST_MINUTES
        if not staff:  # ticket queues and the digest of their changes are the staff's
            del self.fields["unassigned_replies"]
            del self.fields["digest_minutes"]
        self.fields["muted"].initial = ", ".join(self.instance.muted_sources or [])

    def clean_muted(self) -> list[str]:
        items = [s.strip() for s in self.cleaned_data.get("muted", "").split(",")]
        out: list[str] = []
        for item in items:
            if not item:
                continue
            if len(item) > 50 or not all(c.isalnum() or c in "._-" for c in item):
                raise forms.ValidationError(
                    _("“%(source)s” is not a notification source.") % {"source": item[:50]})
            if item not in out:
                out.append(item)
        return out

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("quiet_start"), data.get("quiet_end")
        if (start is None) != (end is None):
            raise forms.ValidationError(_("Give both ends of the quiet hours, or neither."))
        return data

    def save(self, commit: bool = True) -> NotificationPreference:
        self.instance.muted_sources = self.cleaned_data["muted"]
        return super().save(commit=commit)


class LanguageForm(forms.ModelForm):
    """Language and time zone: pages, e-mails and notifications follow them."""

    time_zone = forms.ChoiceField(label=gettext_lazy("Time zone"), choices=())

    class Meta:
        model = User
        fields = ("language", "time_zone")
        labels = {"language": gettext_lazy("Language")}
        help_texts = {"language": gettext_lazy("Empty: the language your browser asks for.")}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = [("", gettext_lazy("As my browser asks"))] + [
            (code, name) for code, name in settings.LANGUAGES]
        self.fields["time_zone"].choices = [(z, z) for z in sorted(
            zoneinfo.available_timezones() | {"UTC"})]


@require_POST
@login_required
def language(request: HttpRequest) -> HttpResponse:
    """Save the signed-in user's language and time zone (their own only)."""
    form = LanguageForm(request.POST, instance=request.user)
    if form.is_valid():
        form.save()
        # The confirmation in the newly chosen language.
        with translation.override(form.instance.language or translation.get_language()):
            messages.success(request, _("Language and time zone saved."))
        return redirect("notifications:preferences")
    pref = (NotificationPreference.objects.filter(user=request.user).first()
            or NotificationPreference(user=request.user))
    return render(request, "helpdesk/notification_preferences.html", {
        "form": PreferenceForm(instance=pref, staff=request.user.is_agent),
        "language_form": form, "time_zone": request.user.time_zone or "UTC",
    }, status=400)


@require_http_methods(["GET", "POST"])
@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    """The signed-in user's own preferences (there is no URL for anyone else's)."""
    pref = (NotificationPreference.objects.filter(user=request.user).first()
            or NotificationPreference(user=request.user))
    status = 200
    if request.method == "POST":
        form = PreferenceForm(request.POST, instance=pref, staff=request.user.is_agent)
        if form.is_valid():
            form.save()
            messages.success(request, _("Notification preferences saved."))
            return redirect("notifications:preferences")
        status = 400
    else:
        form = PreferenceForm(instance=pref, staff=request.user.is_agent)
    return render(request, "helpdesk/notification_preferences.html", {
        "form": form, "time_zone": request.user.time_zone or "UTC",
        "language_form": LanguageForm(instance=request.user),
    }, status=status)

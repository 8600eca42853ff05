"""The notification inbox: the bell's unread count, the list, and marking as read.

Each user sees only their own notifications; anyone else's is a 404.
"""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from . import notifications
from .models import Notification

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

"""Email channel endpoints: raw inbound mail from MTAs/webhooks, and the agents' retry.

POST /mail/inbound/<mailbox>/ takes one raw RFC 5322 message as the request body
(Content-Type message/rfc822 or anything else; the body is read as bytes).
Authentication: `Authorization: Bearer <token>`, the token being the value of the
environment variable named by the mailbox's `webhook_token_env` (compared in constant
time). Unknown mailbox, missing/blank configuration or wrong token all answer 401 alike,
so the endpoint does not reveal which mailboxes exist. Requests are rate limited per
client address (MAILGATE_INBOUND_PER_MINUTE) and bodies above
MAILGATE_MAX_MESSAGE_BYTES answer 413.
"""
from __future__ import annotations

import hmac

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from helpdesk import throttle
from helpdesk.models import User
from tickets.selectors import get_ticket_for

from . import bounces, notices, outbound, services
from .models import BounceMark, CustomerMailPreference, Mailbox, OutboundEmail
from .panels import ticket_addresses


def inbound_rate() -> int:
    return int(getattr(settings, "MAILGATE_INBOUND_PER_MINUTE", 300))


def _authorised(request: HttpRequest, mailbox: Mailbox | None) -> bool:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    given = header[7:].strip() if header[:7].lower() == "bearer " else ""
    expected = mailbox.webhook_token() if mailbox is not None else ""
    # Compare even when nothing is expected, so timing does not reveal the mailbox.
    ok = hmac.compare_digest(given.encode(), (expected or "\0never").encode())
    return ok and bool(expected) and bool(given)


@csrf_exempt  # machine-to-machine, authenticated by the bearer token, no cookies
@require_POST
def inbound(request: HttpRequest, name: str) -> HttpResponse:
    if throttle.exceeded("mailgate.inbound", request, inbound_rate()):
        return JsonResponse({"error": "Too many requests."}, status=429)
    throttle.hit("mailgate.inbound", request)
    mailbox = Mailbox.objects.filter(name=name, is_active=True).first()
    if not _authorised(request, mailbox):
        return JsonResponse({"error": "Authentication required."}, status=401,
                            headers={"WWW-Authenticate": "Bearer"})
    limit = services.max_message_bytes()
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    if declared > limit:
        return JsonResponse({"error": f"Messages are limited to {limit} bytes."}, status=413)
    raw = request.read(limit + 1)  # not request.body: DATA_UPLOAD_MAX_MEMORY_SIZE is for forms
    if len(raw) > limit:
        return JsonResponse({"error": f"Messages are limited to {limit} bytes."}, status=413)
    if not raw.strip():
        return JsonResponse({"error": "The request body must be the raw message."},
                            status=400)
    result = services.ingest(raw, mailbox)
    body = {"status": result.status, "duplicate": result.duplicate,
            "ticket": result.ticket.pk if result.ticket else None}
    return JsonResponse(body, status=200 if result.duplicate else 202)


@login_required
@require_POST
def retry(request: HttpRequest, pk: int) -> HttpResponse:
    """Send a failed reply again (agents who can see the ticket; others get a 404)."""
    if not request.user.is_agent:
        raise Http404("No such e-mail")
    row = get_object_or_404(OutboundEmail.objects.filter(ticket__isnull=False), pk=pk)
    ticket = get_ticket_for(request.user, row.ticket_id)
    outbound.retry_outbound(row, actor=request.user)
    return redirect(ticket.get_absolute_url())


@login_required
@require_POST
def clear_bounce(request: HttpRequest, pk: int) -> HttpResponse:
    """An agent clears the bounce mark of an address on a ticket they can see (the
    requester's or a CC's); anyone else, or a mark of another ticket's people, is a 404."""
    if not request.user.is_agent:
        raise Http404("No such mark")
    ticket = get_ticket_for(request.user, request.POST.get("ticket", ""), detail=True)
    mark = get_object_or_404(BounceMark, pk=pk, address__in=ticket_addresses(ticket))
    bounces.clear(mark, actor=request.user, ticket=ticket)
    return redirect(ticket.get_absolute_url())


# --- the customer's e-mail preferences and the one-click unsubscribe ---------------------

class PreferenceForm(forms.ModelForm):
    class Meta:
        model = CustomerMailPreference
        fields = ("all_email", "status_updates", "reminders", "incident_updates")
        labels = {"status_updates": gettext_lazy("status updates"),
                  "reminders": gettext_lazy("reminders"),
                  "incident_updates": gettext_lazy("incident updates")}


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    """Each person chooses which ticket e-mails they get (their own row)."""
    # A GET writes nothing: no row until the first save (no row means everything on).
    pref = (CustomerMailPreference.objects.filter(user=request.user).first()
            or CustomerMailPreference(user=request.user))
    form = PreferenceForm(request.POST or None, instance=pref)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Your e-mail preferences are saved."))
        return redirect("mailgate:preferences")
    return render(request, "mailgate/preferences.html", {"form": form})


@csrf_exempt  # RFC 8058: mail clients POST here without a session or a CSRF token
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a confirmation button (link scanners must not unsubscribe anyone);
    POST, with the signed token as the only credential, unsubscribes at once."""
    try:
        user_id, topic = notices.read_unsubscribe_token(token)
    except signing.BadSignature:
        raise Http404("Unknown or damaged unsubscribe link.") from None
    user = get_object_or_404(User, pk=user_id)
    # The link comes from an e-mail written in the person's language: answer in it too.
    with translation.override(user.language or translation.get_language()):
        label = {"reminder": _("reminders while a ticket waits on you"),
                 "incident": _("updates about service incidents")}[topic]
        if request.method == "POST":
            notices.unsubscribe(user, topic)
            return render(request, "mailgate/unsubscribed.html", {"label": label, "done": True})
        return render(request, "mailgate/unsubscribed.html", {"label": label, "done": False})

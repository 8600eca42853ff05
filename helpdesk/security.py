"""Staff sign-in hardening: two-factor enforcement per role, idle expiry, re-authentication.

Settings (see README, "Security"):
- HELPDESK_2FA_REQUIRED_ROLES: role names whose members must pass a second factor before
  anything but enrolment; a superuser counts as "admin".
- HELPDESK_STAFF_IDLE_MINUTES: a staff session unused this long is signed out (0: never).
- HELPDESK_REAUTH_MINUTES: sensitive actions (HELPDESK_SENSITIVE_URL_NAMES, POST) need a
  password or code entered within this many minutes (0: off).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

LAST_SEEN = "helpdesk_last_seen"
REAUTH_AT = "helpdesk_reauth_at"
OTP_AT = "helpdesk_otp_at"
# Polled by an open page in the background: not a sign that someone is at the keyboard.
BACKGROUND_PATHS = ("/notifications/bell/",)
# Reachable by a signed-in user who still owes a second factor.
EXEMPT_PREFIXES = ("/accounts/2fa/", "/accounts/logout/", "/accounts/oidc/", "/static/",
                   "/healthz")


def user_roles(user) -> set[str]:
    names = {g.name for g in user.groups.all()}
    if user.is_superuser:
        names.add("admin")
    return names


def two_factor_required(user) -> bool:
    if not user.is_authenticated:
        return False
    required = set(getattr(settings, "HELPDESK_2FA_REQUIRED_ROLES", []))
    return bool(required and user_roles(user) & required)


def has_device(user) -> bool:
    from django_otp import devices_for_user

    return any(True for _ in devices_for_user(user, confirmed=True))


def mark_reauthenticated(request: HttpRequest) -> None:
    request.session[REAUTH_AT] = timezone.now().isoformat()


def mark_otp_passed(request: HttpRequest) -> None:
    request.session[OTP_AT] = timezone.now().isoformat()
    mark_reauthenticated(request)


def _within(request: HttpRequest, key: str, minutes: int) -> bool:
    raw = request.session.get(key)
    if not raw:
        return False
    return timezone.now() - datetime.fromisoformat(raw) <= timedelta(minutes=minutes)


def recently_authenticated(request: HttpRequest) -> bool:
    minutes = getattr(settings, "HELPDESK_REAUTH_MINUTES", 0)
    return not minutes or _within(request, REAUTH_AT, minutes)


class StaffSessionMiddleware:
    """Idle expiry and two-factor enforcement for staff, re-authentication for sensitive
    POSTs. Runs after django_otp's OTPMiddleware (request.user.is_verified)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and user.is_agent:
            expired = self._idle_expired(request)
            if expired is not None:
                return expired
            if two_factor_required(user) and not user.is_verified() \
                    and not request.path.startswith(EXEMPT_PREFIXES):
                if request.path.startswith("/api/"):
                    return JsonResponse(
                        {"detail": "Two-factor authentication required: sign in on the web "
                                   "first, or use an API token."}, status=403)
                if request.headers.get("HX-Request") == "true":
                    # A partial (the bell's poll) must not swap the enrolment page into
                    # the top bar; htmx leaves the page alone on a 403.
                    return HttpResponse("Two-factor verification required.", status=403,
                                        content_type="text/plain")
                target = "two_factor_verify" if has_device(user) else "two_factor_setup"
                return redirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)

    def _idle_expired(self, request: HttpRequest) -> HttpResponse | None:
        minutes = getattr(settings, "HELPDESK_STAFF_IDLE_MINUTES", 0)
        if not minutes:
            return None
        now = timezone.now()
        last = request.session.get(LAST_SEEN)
        if last and now - datetime.fromisoformat(last) > timedelta(minutes=minutes):
            logout(request)
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": "Session expired."}, status=401)
            return redirect_to_login(request.get_full_path())
        if request.path in BACKGROUND_PATHS:
            return None
        # Written at most once a minute: a session write per request would cost a query.
        if not last or now - datetime.fromisoformat(last) > timedelta(seconds=60):
            request.session[LAST_SEEN] = now.isoformat()
        return None

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        if request.method != "POST" or not request.user.is_authenticated:
            return None
        match = request.resolver_match
        name = match.view_name if match else ""
        if name not in getattr(settings, "HELPDESK_SENSITIVE_URL_NAMES", ()):
            return None
        if recently_authenticated(request):
            return None
        return redirect(f"{reverse('reauthenticate')}?"
                        f"{urlencode({'next': request.get_full_path()})}")

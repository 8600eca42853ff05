"""Home, health check, sign-up and the throttled log-in."""
from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import LoginView
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views import defaults
from django.views.decorators.http import require_http_methods

from . import throttle
from .forms import SignupForm
from .services import register_customer


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("login")
    if request.user.is_agent:
        return redirect("agent:queue", name="mine")
    return redirect("portal:tickets")


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


class ThrottledLoginView(LoginView):
    """Django's login, refusing further attempts from an address that failed too often."""

    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["sso_enabled"] = bool(getattr(settings, "OIDC_RP_CLIENT_ID", ""))
        context["sso_failed"] = self.request.GET.get("sso") == "failed"
        return context

    def post(self, request, *args, **kwargs):
        if throttle.exceeded("login", request, settings.HELPDESK_LOGIN_ATTEMPTS_PER_MINUTE):
            # An unbound form: validating the posted one would check the password,
            # and its error (or absence of one) would answer the guess anyway.
            form = self.get_form_class()(
                request, initial={"username": request.POST.get("username", "")[:150]}
            )
            response = self.render_to_response(
                self.get_context_data(form=form, throttled=True), status=429
            )
            response["Retry-After"] = "60"
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        throttle.hit("login", self.request)
        return super().form_invalid(form)


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and throttle.exceeded(
            "signup", request, settings.HELPDESK_SIGNUPS_PER_HOUR):
        response = render(request, "registration/signup.html",
                          {"form": SignupForm(), "throttled": True}, status=429)
        response["Retry-After"] = "3600"
        return response
    if request.method == "POST" and form.is_valid():
        throttle.hit("signup", request, window=3600)
        user = register_customer(
            username=form.cleaned_data["username"], email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"], first_name=form.cleaned_data["first_name"],
            last_name=form.cleaned_data.get("last_name", ""),
        )
        login(request, user, backend="helpdesk.auth.CachedPermissionsBackend")
        messages.success(request, _("Welcome! You can file your first request below."))
        return redirect("portal:tickets")
    return render(request, "registration/signup.html", {"form": form})


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """400 (413 for a body over the limit), saying what was wrong: JSON under /api/.

    Django calls this for a request it refuses before any view runs its logic: a body
    over DATA_UPLOAD_MAX_MEMORY_SIZE, too many fields or files, an unknown host.
    """
    status = 400
    if isinstance(exception, RequestDataTooBig):
        status = 413
        mb = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / (1024 * 1024)
        message = _("The request is too large: at most %(mb)s MB of text per request "
                    "(attachments are counted separately). Nothing was saved.") % {
            "mb": f"{mb:g}"}
    elif isinstance(exception, TooManyFieldsSent):
        message = _("The request has too many fields (at most %(num)s). Nothing was saved.") % {
            "num": settings.DATA_UPLOAD_MAX_NUMBER_FIELDS}
    elif isinstance(exception, TooManyFilesSent):
        message = _("The request has too many files (at most %(num)s). Nothing was saved.") % {
            "num": settings.DATA_UPLOAD_MAX_NUMBER_FILES}
    else:
        message = _("The request could not be understood. Nothing was saved.")
    if _wants_json(request):
        return JsonResponse({"detail": message}, status=status)
    return HttpResponse(render_to_string("400.html", {"message": message}), status=status)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404: JSON under /api/ (integrators parse it), the HTML page elsewhere."""
    if _wants_json(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """500: JSON under /api/, the HTML page elsewhere; nothing about the cause leaks."""
    if _wants_json(request):
        return JsonResponse({"detail": "Server error; please try again."},
                            status=500)
    return defaults.server_error(request)

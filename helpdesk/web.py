"""Shared web helpers for every app's views: access decorators, form widgets, errors.

Kept in the kernel so that apps on any layer use one copy instead of importing another
app's views module.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django_htmx.http import HttpResponseClientRedirect

View = Callable[..., HttpResponse]


def agent_required(view: View) -> View:
    """Signed-in agents only; other users get a 404 so the workspace is not advertised."""

    @wraps(view)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            if request.htmx:  # a partial must not swap the login page into the table
                return HttpResponseClientRedirect(
                    redirect_to_login(request.get_full_path()).url)
            return redirect_to_login(request.get_full_path())
        if not request.user.is_agent:
            raise Http404("Not found")
        return view(request, *args, **kwargs)

    return checked


def problem(exc: Exception) -> str:
    """The message to show for a refused action (a ValidationError's messages, joined)."""
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or "This action is not allowed."


class DateInput(forms.DateInput):
    """The browser's date picker."""

    input_type = "date"

"""Shared web helpers for every app's views: access decorators, form widgets, errors,
the period filter of the reports and the live countdown.

Kept in the kernel so that apps on any layer use one copy instead of importing another
app's views module.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from functools import wraps
from typing import Any

from django import forms
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import dateformat, formats, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince, timeuntil
from django.utils.timezone import template_localtime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_htmx.http import HttpResponseClientRedirect
from markupsafe import escape

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
    # An error raised where nothing can translate (the Django-free ticket state machine)
    # carries its catalogue text: translate it for the reader here.
    translated = getattr(exc, "translated", None)
    if callable(translated):
        return translated(_)
    return str(exc) or _("This action is not allowed.")


class DateInput(forms.DateInput):
    """The browser's date picker."""

    input_type = "date"


class LongSelect(forms.Select):
    """A select written directly, for lists of hundreds of options (the staff who can
    cover an on-call turn): Django's widget renders a template per option, several
    milliseconds per hundred. Same markup as `forms.Select` (a test holds them equal)."""

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None,
               renderer: Any = None) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        out = [f"<select name=\"{escape(widget['name'])}\"{_attrs(widget['attrs'])}>"]
        for group, options, _index in widget["optgroups"]:
            if group:
                out.append(f"\n  <optgroup label=\"{escape(group)}\">")
            out.extend(f"\n  <option value=\"{escape(o['value'])}\"{_attrs(o['attrs'])}>"
                       f"{escape(o['label'])}</option>" for o in options)
            if group:
                out.append("\n  </optgroup>")
        out.append("\n</select>")
        return SafeString("".join(out))


def _attrs(attrs: dict[str, Any]) -> str:
    """As the widgets' attrs.html: a True value is a bare name, False leaves it out."""
    return "".join(f" {name}" if value is True else f" {name}=\"{escape(value)}\""
                   for name, value in attrs.items() if value is not False)


MAX_PERIOD_DAYS = 731


class PeriodForm(forms.Form):
    """The period filter of every report: local dates From .. To (inclusive), by default
    the last `default_days` days, at most two years. Reports add their narrowing fields
    in a subclass and render it with templates/jinja2/includes/period_filters.html."""

    start = forms.DateField(required=False, widget=DateInput, label=gettext_lazy("From"))
    end = forms.DateField(required=False, widget=DateInput,
                          label=gettext_lazy("To (inclusive)"))
    default_days = 30

    def __init__(self, *args: Any, default_days: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if default_days is not None:
            self.default_days = default_days
        for name, f in self.fields.items():
            f.widget.attrs.setdefault("id", f"filter_{name}")

    def default_period(self, today: date) -> tuple[date, date]:
        return today - timedelta(days=self.default_days - 1), today

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = self.default_period(timezone.localdate())
        if data.get("start"):
            start = data["start"]
        elif data.get("end"):
            start = data["end"] - timedelta(days=self.default_days - 1)
        end = data.get("end") or max(end, start)
        if end < start:
            raise ValidationError(_("The end of the period is before its start."))
        if (end - start).days >= MAX_PERIOD_DAYS:
            raise ValidationError(_("Choose a period of at most %(days)s days.")
                                  % {"days": MAX_PERIOD_DAYS})
        data["start"], data["end"] = start, end
        return data

    def values(self) -> dict[str, Any]:
        """The cleaned data; the default period alone while the form is invalid (its
        errors are shown, the report shows the default period meanwhile)."""
        if self.is_valid():
            return dict(self.cleaned_data)
        start, end = self.default_period(timezone.localdate())
        return {"start": start, "end": end}

    @staticmethod
    def bounds(values: dict[str, Any]) -> tuple[datetime, datetime]:
        """The period as [start 00:00, day after end 00:00) in the current time zone."""
        zone = timezone.get_current_timezone()
        return (datetime.combine(values["start"], time.min, tzinfo=zone),
                datetime.combine(values["end"] + timedelta(days=1), time.min, tzinfo=zone))


def countdown(due: datetime, now: datetime) -> SafeString:
    """A live countdown to `due` (SLA clocks, the next incident update): the words are
    rendered here, so it reads right without JS, and kept current by
    static/js/countdown.js. The one countdown of both template engines."""
    local = template_localtime(due)
    overdue = due <= now
    words = (_("overdue %(time)s") % {"time": timesince(due, now)} if overdue
             else _("in %(time)s") % {"time": timeuntil(due, now)})
    return format_html(
        '<time data-countdown datetime="{}" title="{}" class="countdown{}">{}</time>',
        dateformat.format(local, "c"), formats.date_format(local, "DATETIME_FORMAT"),
        " overdue" if overdue else "", words,
    )

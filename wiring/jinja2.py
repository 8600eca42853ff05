"""The Jinja2 engine (settings TEMPLATES), the engine chosen for product pages.

The environment gives templates what the Django tags gave them (`url`, `static`,
`querystring`, fragment caching, `pluralize`), dates in the user's time zone, Django's
"time since" words, the countdown, the SLA level words and the customers' status words:
each the same function the Django templates call, so the markup matches exactly.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib.humanize.templatetags.humanize import naturaltime
from django.core.cache import cache
from django.core.cache.utils import make_template_fragment_key
from django.http import HttpRequest
from django.template.backends import jinja2 as backend
from django.template.backends.utils import csrf_input_lazy, csrf_token_lazy
from django.template.defaultfilters import (
    capfirst,
    cut,
    default_if_none,
    escapejs,
    filesizeformat,
    floatformat,
    linebreaksbr,
    pluralize,
    stringformat,
    truncatechars,
)
from django.templatetags.static import static
from django.test.signals import template_rendered
from django.urls import reverse
from django.utils import dateformat, formats, timezone, translation
from django.utils.safestring import SafeString
from django.utils.timesince import timesince
from django.utils.timezone import get_current_timezone, template_localtime
from jinja2 import ChainableUndefined, Environment
from markupsafe import Markup

from casework.alert_text import detail_text
from helpdesk import formats as display
from helpdesk.icons import icon
from helpdesk.tiers import tier_label
from helpdesk.web import countdown
from incidents.entries import entry_text, link_note_text
from qa.selectors import flag_reasons_text, review_event_note
from sla.reasons import reason_text as sla_reason_text
from tickets.sla_levels import sla_level_label
from tickets.templatetags.helpdesk_tags import markdown_filter, status_name
from tickets.templatetags.portal_tags import (
    customer_status,
    customer_status_group,
    customer_status_help,
)
from tickets.timeline import field_label, kind_label, note_text, value_text
from workforce.page_text import override_reason_text, reason_text


def iso_datetime(value: datetime | None) -> str:
    """Like the `date:'c'` filter: ISO 8601 in the current time zone."""
    return dateformat.format(template_localtime(value), "c") if value else ""


def date_format(value: datetime | None, fmt: str) -> str:
    """Like the `date` filter, in the current time zone: a shape's name (Django's
    DATE_FORMAT..., or the product's WEEKDAY_DATETIME_FORMAT... of helpdesk.formats),
    spelt per language, or a machine pattern ('c', 'Y-m-d') used as it is."""
    return display.date_format(template_localtime(value), fmt) if value else ""


def time_format(value: datetime | None, fmt: str = "TIME_FORMAT") -> str:
    """Like the `time` filter, in the current time zone (names as for date_format)."""
    return display.time_format(template_localtime(value), fmt) if value else ""


def url(viewname: str, /, *args: Any, **kwargs: Any) -> str:
    """Like {% url %}."""
    return reverse(viewname, args=args or None, kwargs=kwargs or None)


def querystring(request: HttpRequest, **changes: Any) -> str:
    """Like {% querystring %}: the request's query with `changes` (None removes a key)."""
    params = request.GET.copy()
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        elif isinstance(value, list | tuple):
            params.setlist(key, value)
        else:
            params[key] = value
    if not params and not request.GET:
        return ""
    return f"?{params.urlencode()}"


def widthratio(value: Any, max_value: Any, max_width: int) -> str:
    """Like {% widthratio %}: value / max_value * max_width, rounded."""
    try:
        return str(round(float(value) / float(max_value) * int(max_width)))
    except ZeroDivisionError:
        return "0"
    except (ValueError, TypeError, OverflowError):
        return ""


def cached(timeout: int, name: str, *vary: Any, caller: Callable[[], str],
           when: bool = True) -> Markup:
    """Like {% cache %}: `{% call cached(300, "name", vary...) %}...{% endcall %}`. The
    reader's language is always part of the key: a fragment holds translated text.
    `when` false renders without the cache (a form bound to what the user sent)."""
    if not when:
        return Markup(str(caller()))  # noqa: S704 - rendered by this autoescaping environment
    key = make_template_fragment_key(
        name, [translation.get_language() or "", *(str(v) for v in vary)])
    html = cache.get(key)
    if html is None:
        html = str(caller())
        cache.set(key, html, timeout)
    return Markup(html)  # noqa: S704 - rendered by this autoescaping environment


def in_timezone(tz: Any, *, caller: Callable[[], str]) -> Markup:
    """Like {% timezone %}: `{% call in_timezone(tz) %}...{% endcall %}` renders dates
    inside in `tz`."""
    with timezone.override(tz):
        return Markup(str(caller()))  # noqa: S704 - rendered by this autoescaping environment


def environment(**options: Any) -> Environment:
    # As in Django templates, a missing attribute anywhere in a chain (`a.b.c` with `b`
    # None) renders as nothing instead of failing the page.
    options["undefined"] = ChainableUndefined
    # `{{ _("…") }}`, `{% trans %}` and `ngettext` go through Django's catalogues, so
    # Python, Django templates and Jinja2 pages share one set of translations (locale/).
    options["extensions"] = [*options.get("extensions", ()), "jinja2.ext.i18n"]
    env = Environment(**options)  # noqa: S701 - the Django backend turns autoescape on
    env.install_gettext_translations(translation, newstyle=True)  # type: ignore[attr-defined]
    # `{% trans %}` blocks written over several lines make one-line messages (the
    # extractor of helpdesk's makemessages uses the same policy).
    env.policies["ext.i18n.trimmed"] = True
    env.globals.update(countdown=countdown, sla_level_label=sla_level_label, url=url,
                       static=static, querystring=querystring, cached=cached,
                       widthratio=widthratio, in_timezone=in_timezone,
                       get_current_timezone=get_current_timezone, icon=icon)
    env.filters.update(iso_datetime=iso_datetime, date_format=date_format,
                       localize_number=formats.localize,
                       timesince=timesince, customer_status=customer_status,
                       customer_status_group=customer_status_group, pluralize=pluralize,
                       floatformat=floatformat, escapejs=escapejs, markdown=markdown_filter,
                       status_name=status_name, stringformat=stringformat, capfirst=capfirst,
                       linebreaksbr=linebreaksbr, truncatechars=truncatechars,
                       default_if_none=default_if_none, cut=cut, time_format=time_format,
                       filesizeformat=filesizeformat, naturaltime=naturaltime,
                       customer_status_help=customer_status_help,
                       portal_markdown=markdown_filter, event_kind=kind_label,
                       event_field=field_label, event_note=note_text, event_value=value_text,
                       support_tier=tier_label, qa_flag_reasons=flag_reasons_text,
                       qa_event_note=review_event_note, alert_detail=detail_text,
                       sla_reason=sla_reason_text,
                       incident_entry=entry_text, incident_link_note=link_note_text,
                       page_reason=reason_text,
                       override_reason=override_reason_text, number=display.number,
                       percent=display.percent, share=display.share)
    return env


class Template(backend.Template):
    """Django's Jinja2 template that also tells the test client what it rendered (as
    Django templates do under test), so `response.context` works for every page."""

    @property
    def name(self) -> str:
        return self.template.name

    def render(self, context: dict | None = None,
               request: HttpRequest | None = None) -> SafeString:
        context = dict(context or {})
        if request is not None:  # as Django's backend does, so the signal sees it all
            context["request"] = request
            context["csrf_input"] = csrf_input_lazy(request)
            context["csrf_token"] = csrf_token_lazy(request)
            for processor in self.backend.template_context_processors:
                context.update(processor(request))
        template_rendered.send(sender=self, template=self, context=context)
        # Safe HTML, as Django templates return: panels and hooks rendered by name with
        # render_to_string are shown as markup by whichever page includes them.
        return SafeString(super().render(context))


class Jinja2(backend.Jinja2):
    def from_string(self, template_code: str) -> Template:
        return Template(self.env.from_string(template_code), self)

    def get_template(self, template_name: str) -> Template:
        return Template(super().get_template(template_name).template, self)

"""Template helpers of the ticket pages: safe Markdown, readable status names, form fields."""
from __future__ import annotations

from typing import Any

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from tickets.rendering import render_markdown
from tickets.state_machine import LABELS, Status

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: str) -> SafeString:
    """Render Markdown without raw HTML, sanitised (see tickets.rendering)."""
    return render_markdown(text or "")


@register.filter
def status_name(value: str) -> str:
    """"in_progress" -> "In progress"; anything that is not a status is returned as is."""
    try:
        return LABELS[Status(value)]
    except ValueError:
        return value


@register.simple_tag
def form_fields(form: Any) -> SafeString:
    """The fields of `form` with labels, help and errors (templates/jinja2/includes)."""
    return mark_safe(render_to_string(  # noqa: S308 - Jinja2 autoescapes
        "includes/_fields.html", {"form": form}, using="jinja2"))

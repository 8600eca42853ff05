"""Template helpers of the ticket pages: safe Markdown, readable status names."""
from __future__ import annotations

from django import template
from django.utils.safestring import SafeString
from django.utils.translation import gettext

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
        return gettext(LABELS[Status(value)])
    except ValueError:
        return value

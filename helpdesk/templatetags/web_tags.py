"""The field layout for the Django templates that remain (registration and account pages):
the tags render the one Jinja2 field layout, so both engines lay out fields alike."""
from __future__ import annotations

from typing import Any

from django import template
from django.template.loader import get_template
from django.utils.safestring import SafeString

register = template.Library()

FIELDS_TEMPLATE = "includes/_fields.html"  # templates/jinja2: the one field layout


@register.simple_tag
def form_fields(form: Any) -> SafeString:
    """Every field of `form` with its errors (templates/jinja2/includes/_fields.html).
    A Django page gets the layout from the Jinja2 engine until it is converted itself
    (README, "One way to render a page")."""
    return SafeString(get_template(FIELDS_TEMPLATE, using="jinja2").render({"form": form}))


@register.simple_tag
def form_field(field: Any) -> SafeString:
    """One field in the same layout, for forms that lay out their fields themselves."""
    return SafeString(get_template(FIELDS_TEMPLATE, using="jinja2").render(
        {"form": None, "fields": [field]}))

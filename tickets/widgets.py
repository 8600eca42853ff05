"""Form widgets that render large option lists without a template per option.

Django renders every <option> through a template; a queue page with two agent pickers
of a few hundred agents spends most of its time there. Same markup, built in Python.
"""
from __future__ import annotations

from typing import Any

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString


class FastSelect(forms.Select):
    def render(self, name: str, value: Any, attrs: dict | None = None,
               renderer: Any = None) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        options = format_html_join(
            "", "<option value=\"{}\"{}>{}</option>",
            ((opt["value"], " selected" if opt["selected"] else "", opt["label"])
             for _, group, _ in widget["optgroups"] for opt in group),
        )
        return format_html('<select name="{}"{}>{}</select>', widget["name"],
                           flatatt(widget["attrs"]), options)


def use_fast_selects(fields: Any) -> None:
    """Swap plain single selects of these form fields for FastSelect (same behaviour)."""
    for field in fields.values():
        if type(field.widget) is forms.Select:
            field.widget.__class__ = FastSelect

"""Form pieces that render large option lists fast: no template or query per option.

Django renders every <option> through a template; a queue page with two agent pickers
of a few hundred agents spends most of its time there. Same markup, built in Python.
"""
from __future__ import annotations

import html
from typing import Any

from django import forms
from django.core.cache import cache
from django.forms.utils import flatatt
from django.utils.choices import BaseChoiceIterator
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe


class FastSelect(forms.Select):
    """Django's select markup, built straight from `choices`: no template and no context
    dict per option (Django's optgroups() builds one per agent of a picker)."""

    def render(self, name: str, value: Any, attrs: dict | None = None,
               renderer: Any = None) -> SafeString:
        wanted = set(self.format_value(value))
        parts: list[str] = []
        found = False  # a single select marks the first matching option only

        def option(option_value: Any, label: Any) -> str:
            nonlocal found
            text = "" if option_value is None else str(option_value)
            chosen = not found and text in wanted
            found |= chosen
            return (f'<option value="{html.escape(text)}"{" selected" if chosen else ""}>'
                    f'{html.escape(str(label))}</option>')

        for option_value, label in self.choices:
            if isinstance(label, list | tuple):  # an <optgroup>
                parts.append(f'<optgroup label="{html.escape(str(option_value))}">')
                parts.extend(option(v, sub) for v, sub in label)
                parts.append("</optgroup>")
            else:
                parts.append(option(option_value, label))
        return format_html('<select name="{}"{}>{}</select>', name,
                           flatatt(self.build_attrs(self.attrs, attrs)),
                           mark_safe("".join(parts)))  # noqa: S308 - escaped above


def use_fast_selects(fields: Any) -> None:
    """Swap plain single selects of these form fields for FastSelect (same behaviour)."""
    for field in fields.values():
        if type(field.widget) is forms.Select:
            field.widget.__class__ = FastSelect


def _choices_key(model: type) -> str:
    return f"tickets:choices:{model._meta.label_lower}"


def cached_choices(model: type, queryset: Any = None) -> list[tuple[Any, str]]:
    """(pk, label) of a small reference table (teams, categories...), cached until it changes."""
    key = _choices_key(model)
    rows = cache.get(key)
    if rows is None:
        rows = [(obj.pk, str(obj)) for obj in (queryset or model._default_manager.all())]
        cache.set(key, rows, 3600)
    return rows


def forget_choices(sender: type, **kwargs: Any) -> None:
    cache.delete(_choices_key(sender))


class _CachedChoices(BaseChoiceIterator):
    def __init__(self, field: CachedModelChoiceField) -> None:
        self.field = field

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        excluded = self.field.exclude_pks
        for pk, label in cached_choices(self.field.queryset.model):
            if pk not in excluded:
                yield (pk, label)


class CachedModelChoiceField(forms.ModelChoiceField):
    """A ModelChoiceField for a small, unfiltered reference table: validates against the
    queryset, renders from the cached (pk, label) list. `exclude_pks` hides options."""

    exclude_pks: frozenset = frozenset()

    def _get_choices(self) -> _CachedChoices:
        return _CachedChoices(self)

    choices = property(_get_choices, forms.ChoiceField.choices.fset)

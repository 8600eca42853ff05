"""Form fields for custom fields (portal and agent page): the input's shape only; the
values are checked again by tickets.services against the definitions."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from helpdesk.web import DateInput

from . import custom_fields as cf
from .models import CustomField

PREFIX = "cf_"


def form_field(field: CustomField, *, required: bool) -> forms.Field:
    """The Django form field of a custom field (named `cf_<key>` in forms)."""
    common: dict[str, Any] = {"label": field.label, "help_text": field.help_text,
                              "required": required}
    kind = field.field_type
    if kind == cf.LONG_TEXT:
        return forms.CharField(max_length=cf.MAX_LONG_TEXT,
                               widget=forms.Textarea(attrs={"rows": 3}), **common)
    if kind in (cf.TEXT, cf.REGEX):
        return forms.CharField(max_length=cf.MAX_TEXT, **common)
    if kind == cf.NUMBER:
        return forms.IntegerField(min_value=-cf.MAX_NUMBER, max_value=cf.MAX_NUMBER, **common)
    if kind == cf.DECIMAL:
        return forms.DecimalField(max_digits=cf.DECIMAL_DIGITS,
                                  decimal_places=cf.DECIMAL_PLACES, **common)
    if kind == cf.DATE:
        return forms.DateField(widget=DateInput(), **common)
    if kind == cf.CHECKBOX:
        return forms.BooleanField(**common)
    if kind == cf.DROPDOWN:
        return forms.ChoiceField(choices=[("", "—"), *((c, c) for c in field.choices)],
                                 **common)
    if kind == cf.MULTISELECT:
        return forms.MultipleChoiceField(choices=[(c, c) for c in field.choices],
                                         widget=forms.CheckboxSelectMultiple, **common)
    # Links: an id (the agent page; customers never edit links, see check_definition).
    return forms.IntegerField(
        min_value=1, **{**common, "help_text": field.help_text or (
            _("The organization's id.") if kind == cf.ORGANIZATION else _("The user's id."))})


def _raw(value: Any) -> Any:
    """A cleaned form value as the services take it (text for decimals and dates)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _initial(field: CustomField, value: Any) -> Any:
    if value is None:
        return None
    if field.field_type == cf.DATE:
        return date.fromisoformat(value)
    if field.field_type == cf.DECIMAL:
        return Decimal(value)
    return value


class CustomFieldsForm(forms.Form):
    """A set of custom fields: `asked` pairs (field, required), prefilled from `values`."""

    def __init__(self, *args: Any, asked: Iterable[tuple[CustomField, bool]],
                 values: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.auto_id = "id_cf_%s"
        self.custom = {}
        values = values or {}
        for field, required in asked:
            name = f"{PREFIX}{field.key}"
            self.fields[name] = form_field(field, required=required)
            self.fields[name].initial = _initial(field, values.get(field.key))
            self.custom[name] = field

    def values(self) -> dict[str, Any]:
        """{key: value} of every field of the form (empty ones as None: cleared)."""
        out = {}
        for name, field in self.custom.items():
            value = self.cleaned_data.get(name)
            out[field.key] = None if cf.is_empty(value) and field.field_type != cf.CHECKBOX \
                else _raw(value)
        return out

    def changed_values(self) -> dict[str, Any]:
        """Only the fields whose value differs from the form's initial one."""
        changed = set(self.changed_data)
        return {k: v for k, v in self.values().items() if f"{PREFIX}{k}" in changed}

    def add_service_errors(self, errors: Mapping[str, list[str]]) -> bool:
        """Put a service's `custom_fields.<key>` errors on their inputs; True if any."""
        found = False
        for name, messages in errors.items():
            key = name.removeprefix("custom_fields.")
            if f"{PREFIX}{key}" in self.fields:
                self.add_error(f"{PREFIX}{key}", messages)
                found = True
        return found

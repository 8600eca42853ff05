"""Custom field values: their types, how a raw input becomes a stored value, and the one
test every rule engine uses (`custom_field_matches`). Pure: no queries, no models.

A ticket stores its values in `Ticket.custom_fields`, a JSON object by field key:

| type | stored as |
|---|---|
| text, long_text, regex, dropdown | a string |
| number | an integer |
| decimal | a string with the exact digits ("12.50"), so no float rounding |
| date | an ISO date string ("2026-12-07"), so it sorts and compares as a date |
| checkbox | true or false |
| multiselect | a list of strings, in the order of the field's choices |
| organization, user | the linked row's id |

An empty value is left out of the object, so "is set" is "has the key".
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

TEXT, LONG_TEXT, NUMBER, DECIMAL, DATE = "text", "long_text", "number", "decimal", "date"
CHECKBOX, DROPDOWN, MULTISELECT, REGEX = "checkbox", "dropdown", "multiselect", "regex"
ORGANIZATION, USER = "organization", "user"
TYPES = (TEXT, LONG_TEXT, NUMBER, DECIMAL, DATE, CHECKBOX, DROPDOWN, MULTISELECT, REGEX,
         ORGANIZATION, USER)
WITH_CHOICES = frozenset({DROPDOWN, MULTISELECT})
LINKS = frozenset({ORGANIZATION, USER})

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_TEXT = 255
MAX_LONG_TEXT = 10_000
MAX_NUMBER = 2**53 - 1  # exact in every JSON reader (JavaScript's safe integers)
DECIMAL_DIGITS, DECIMAL_PLACES = 18, 6

# Operators of a condition; "set" and "empty" take no value.
OPS = ("eq", "ne", "in", "contains", "gt", "gte", "lt", "lte", "set", "empty")


class FieldDefinition(Protocol):
    key: str
    label: str
    field_type: str
    choices: list[str]
    pattern: str
    pattern_hint: str


# --- definitions ----------------------------------------------------------------------

def check_definition(field: FieldDefinition) -> None:
    """Refuse a definition that cannot work, with errors by admin form field."""
    errors: dict[str, str] = {}
    if not KEY_PATTERN.match(field.key or ""):
        errors["key"] = ("Use lower-case letters, digits and underscores, starting with a "
                         "letter (at most 40).")
    if field.field_type not in TYPES:
        errors["field_type"] = f"Unknown type {field.field_type!r}."
    choices = field.choices or []
    if field.field_type in WITH_CHOICES:
        if not isinstance(choices, list) or not choices or not all(
                isinstance(c, str) and c.strip() for c in choices):
            errors["choices"] = 'List the options as a JSON list of texts, e.g. ["Basic", "Pro"].'
        elif len(set(choices)) != len(choices):
            errors["choices"] = "Each option may appear once."
        elif any(len(c) > MAX_TEXT for c in choices):
            errors["choices"] = f"Options are at most {MAX_TEXT} characters."
    elif choices:
        errors["choices"] = "Only drop-down and multi-select fields have options."
    if field.field_type == REGEX:
        if not field.pattern:
            errors["pattern"] = "A pattern field needs a regular expression."
        else:
            try:
                re.compile(field.pattern)
            except re.error as exc:
                errors["pattern"] = f"Not a valid regular expression: {exc}."
    elif field.pattern:
        errors["pattern"] = "Only pattern fields have a regular expression."
    if getattr(field, "customer_required", False) and not getattr(
            field, "customer_editable", False):
        errors["customer_required"] = "A field customers must fill must be editable by them."
    if field.field_type in LINKS and getattr(field, "customer_editable", False):
        errors["customer_editable"] = ("Customers cannot edit a link: it would list other "
                                       "organizations or people.")
    elif getattr(field, "customer_editable", False) and not getattr(
            field, "customer_visible", False):
        errors["customer_editable"] = "A field customers may edit must be visible to them."
    if errors:
        raise ValidationError(errors)


# --- values ---------------------------------------------------------------------------

def is_empty(raw: Any) -> bool:
    return raw is None or raw == "" or raw == [] or (isinstance(raw, str) and not raw.strip())


def clean_value(field: FieldDefinition, raw: Any) -> Any:
    """The stored form of `raw` for `field`, or None for empty; ValidationError if invalid.

    Accepts what forms send (text) and what JSON sends (numbers, booleans, lists). Links
    are checked here for shape only; that the row exists is the caller's query.
    """
    kind = field.field_type
    if kind == CHECKBOX:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower() if raw is not None else ""
        if text in ("true", "1", "on", "yes"):
            return True
        if text in ("false", "0", "off", "no", ""):
            return False
        raise ValidationError(_("Give true or false."))
    if kind == MULTISELECT:
        if is_empty(raw):
            return None
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise ValidationError(_("Give a list of options."))
        unknown = [i for i in items if i not in field.choices]
        if unknown:
            raise ValidationError(_("Not an option: %(options)s.")
                                  % {"options": ", ".join(unknown)})
        chosen = set(items)
        return [c for c in field.choices if c in chosen] or None
    if is_empty(raw):
        return None
    if isinstance(raw, bool | dict | list | tuple):
        raise ValidationError(_("Give a single value."))
    if kind in (TEXT, LONG_TEXT, REGEX):
        text = str(raw).strip()
        limit = MAX_LONG_TEXT if kind == LONG_TEXT else MAX_TEXT
        if len(text) > limit:
            raise ValidationError(_("At most %(limit)s characters.") % {"limit": limit})
        if kind == REGEX and not re.fullmatch(field.pattern, text):
            hint = field.pattern_hint or f"it must match {field.pattern}"
            raise ValidationError(_("Not a valid value: %(hint)s.") % {"hint": hint})
        return text
    if kind == DROPDOWN:
        text = str(raw)
        if text not in field.choices:
            raise ValidationError(_("Not an option: %(text)s.") % {"text": text})
        return text
    if kind in (NUMBER, ORGANIZATION, USER):
        try:
            number = int(str(raw).strip()) if not isinstance(raw, int) else raw
        except ValueError:
            raise ValidationError(_("Give a whole number.") if kind == NUMBER
                                  else _("Give an id.")) from None
        if isinstance(raw, float) and raw != int(raw):
            raise ValidationError(_("Give a whole number."))
        low = -MAX_NUMBER if kind == NUMBER else 1
        if not low <= number <= MAX_NUMBER:
            raise ValidationError(_("Out of range (%(low)s to %(high)s).")
                                  % {"low": low, "high": MAX_NUMBER})
        return number
    if kind == DECIMAL:
        try:
            number = Decimal(str(raw).strip())
        except InvalidOperation:
            raise ValidationError(_("Give a number, e.g. 12.50.")) from None
        if not number.is_finite():
            raise ValidationError(_("Give a number, e.g. 12.50."))
        sign, digits, exponent = number.as_tuple()
        places = max(0, -int(exponent))
        if places > DECIMAL_PLACES or len(digits) - places > DECIMAL_DIGITS - DECIMAL_PLACES:
            raise ValidationError(_("At most %(before)s digits before and %(after)s after "
                                    "the point.") % {"before": DECIMAL_DIGITS - DECIMAL_PLACES,
                                                     "after": DECIMAL_PLACES})
        return str(number)
    if kind == DATE:
        if isinstance(raw, date):
            return raw.isoformat()
        try:
            return date.fromisoformat(str(raw).strip()).isoformat()
        except ValueError:
            raise ValidationError(_("Give a date as YYYY-MM-DD.")) from None
    raise ValidationError(_("Unknown field type %(kind)s.") % {"kind": repr(kind)})


def merge_values(current: Mapping[str, Any], cleaned: Mapping[str, Any]) -> dict[str, Any]:
    """`current` with `cleaned` applied: None removes a key."""
    out = dict(current)
    for key, value in cleaned.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def shown(field: FieldDefinition, value: Any, *, names: Mapping[tuple[str, int], str] | None
          = None) -> str:
    """A value as people read it ("Yes", "Basic, Pro", a linked name), in the reader's
    language."""
    if field.field_type == CHECKBOX and value not in (None, "", []):
        return _("Yes") if value else _("No")
    return recorded(field, value, names=names)


def recorded(field: FieldDefinition, value: Any, *,
             names: Mapping[tuple[str, int], str] | None = None) -> str:
    """A value as the audit trail stores it: `shown` in English, whoever wrote it (the
    timeline translates "Yes"/"No" when it shows them)."""
    if value is None or value == [] or value == "":
        return ""
    kind = field.field_type
    if kind == CHECKBOX:
        return "Yes" if value else "No"
    if kind == MULTISELECT and isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if kind in LINKS:
        return (names or {}).get((kind, value), f"#{value}")
    return str(value)


# --- the one test of a value (intake rules, SLA policies, triggers) --------------------

def _values_of(ticket_or_values: Any) -> Mapping[str, Any]:
    if isinstance(ticket_or_values, Mapping):
        return ticket_or_values
    return getattr(ticket_or_values, "custom_fields", None) or {}


def _comparable(value: Any) -> Any:
    """Numbers (stored integers, decimal strings) compare as numbers; the rest as text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            number = Decimal(value)
        except InvalidOperation:
            return value
        return number if number.is_finite() else value
    return value


def _same(a: Any, b: Any) -> bool:
    a, b = _comparable(a), _comparable(b)
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or (isinstance(b, str) and str(a).lower() == b.lower()) or (
            isinstance(a, str) and str(b).lower() == a.lower())
    return a == b


def custom_field_matches(ticket_or_values: Any, field_key: str, op: str, value: Any = None
                         ) -> bool:
    """Does the ticket's custom field `field_key` pass the test `op value`?

    `ticket_or_values` is a ticket (or anything with `custom_fields`) or the values
    mapping itself. Text compares without case; numbers and decimals as numbers; dates as
    ISO dates. On a multi-select, eq/in/contains ask whether any chosen option is the
    value (or one of the values), ne whether none is. "set" and "empty" ignore `value`.
    An unset field passes only "empty" and "ne".
    """
    values = _values_of(ticket_or_values)
    present = field_key in values and not is_empty(values[field_key])
    if op == "set":
        return present
    if op == "empty":
        return not present
    if op not in OPS:
        raise ValueError(f"Unknown operator {op!r}")
    if not present:
        return op == "ne"
    actual = values[field_key]
    items = actual if isinstance(actual, list) else [actual]
    if op == "eq":
        return any(_same(item, value) for item in items)
    if op == "ne":
        return not any(_same(item, value) for item in items)
    if op == "in":
        wanted = value if isinstance(value, list | tuple) else [value]
        return any(_same(item, w) for item in items for w in wanted)
    if op == "contains":
        needle = str(value).casefold()
        return any(needle in str(item).casefold() for item in items)
    left, right = _comparable(actual), _comparable(value)
    if type(left) is not type(right) or isinstance(left, bool | list):
        return False
    return {"gt": left > right, "gte": left >= right, "lt": left < right,
            "lte": left <= right}[op]


def conditions_hold(ticket_or_values: Any, conditions: Iterable[Mapping[str, Any]]) -> bool:
    """Every condition ({"field", "op", "value"}) holds; no conditions hold trivially
    (without reading the ticket's values: a ticket loaded without them costs no query)."""
    conditions = list(conditions)
    if not conditions:
        return True
    values = _values_of(ticket_or_values)
    return all(custom_field_matches(values, c["field"], c["op"], c.get("value"))
               for c in conditions)


def check_conditions(conditions: Any, *, name: str) -> None:
    """Refuse a malformed list of conditions (admin forms of rules and policies)."""
    if conditions in (None, ""):
        return
    if not isinstance(conditions, list):
        raise ValidationError({name: _('Give a list, e.g. [{"field": "plan", "op": "eq", '
                                       '"value": "Pro"}].')})
    for i, cond in enumerate(conditions, 1):
        if not isinstance(cond, dict) or not KEY_PATTERN.match(str(cond.get("field", ""))):
            raise ValidationError({name: _('Condition %(i)s: give the field\'s key as "field".')
                                         % {"i": i}})
        if cond.get("op") not in OPS:
            raise ValidationError({name: _("Condition %(i)s: the operator must be one of "
                                           "%(ops)s.") % {"i": i, "ops": ", ".join(OPS)}})
        if cond["op"] not in ("set", "empty") and "value" not in cond:
            raise ValidationError({name: _('Condition %(i)s: give a "value".') % {"i": i}})
        unknown = set(cond) - {"field", "op", "value"}
        if unknown:
            raise ValidationError({name: _("Condition %(i)s: unknown keys %(unknown)s.")
                                         % {"i": i, "unknown": sorted(unknown)}})


def check_values_setting(values: Any, *, name: str) -> None:
    """Refuse a malformed {key: value} mapping (a macro's values to set)."""
    if values in (None, ""):
        return
    if not isinstance(values, dict) or not all(KEY_PATTERN.match(str(k)) for k in values):
        raise ValidationError({name: _('Give an object of field keys and values, e.g. '
                                       '{"plan": "Pro"}.')})

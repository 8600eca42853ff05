"""Custom fields in triggers and automations: a condition on one field (the fields' own
matcher, `custom_fields.custom_field_matches`, as intake rules and SLA policies use) and
an action that sets values (audited per field like any other change)."""
from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from .. import custom_fields as cf
from .. import field_definitions, services
from ..models import Ticket
from .registry import Action, Condition, Context, register_action, register_condition


def _test(ticket: Ticket, context: Context, spec: dict[str, Any]) -> bool:
    return cf.custom_field_matches(ticket, str(spec.get("key") or ""), spec.get("op", ""),
                                   spec.get("value"))


def _check_condition(spec: dict[str, Any]) -> None:
    try:
        field_definitions.check_conditions_known(
            [{"field": spec.get("key"), "op": spec.get("op"), "value": spec.get("value")}])
    except ValidationError as exc:
        raise ValueError("; ".join(exc.messages)) from None


def _values(value: Any) -> dict[str, Any]:
    try:
        cf.check_values_setting(value, name="value")
        field_definitions.check_values_known(value)
        return field_definitions.clean_values(value or {}, customer=False)
    except ValidationError as exc:
        raise ValueError("; ".join(exc.messages)) from None


def _shown(values: dict[str, Any]) -> str:
    dash = "\u2014"
    parts = [f"{k} \u2192 {dash if v is None else v}" for k, v in values.items()]
    return "custom fields: " + ", ".join(parts)


def _prepare(ticket: Ticket, value: Any) -> str:
    cleaned = _values(value)
    merged = cf.merge_values(ticket.custom_fields or {}, cleaned)
    if merged == (ticket.custom_fields or {}):
        return ""
    ticket.custom_fields = merged
    return _shown(cleaned)


def _run(ticket: Ticket, value: Any, fire: Any) -> str:
    cleaned = _values(value)
    before = dict(ticket.custom_fields or {})
    after = services.update_ticket(ticket, actor=None, changes={"custom_fields": value})
    return _shown(cleaned) if (after.custom_fields or {}) != before else ""


def _validate(value: Any) -> None:
    _values(value)


def register() -> None:
    register_condition(Condition(
        "custom_field", 'A custom field: {"field": "custom_field", "key": "plan", "op": '
        '"eq", "value": "Pro"}', None, cf.OPS, test=_test, validate=_check_condition))
    register_action(Action(
        "set_custom_field", 'Set custom fields: {"plan": "Pro", "risk": null}', _run,
        prepare=_prepare, validate=_validate))

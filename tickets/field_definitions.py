"""The custom fields admins defined and the ticket forms that ask for them: loaded once per
process (helpdesk.config_cache, dropped when an admin saves one), checked against input,
and shown. The value rules themselves are in tickets.custom_fields (pure)."""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Q
from django.utils.translation import gettext as _

from helpdesk import config_cache
from helpdesk.models import Organization, User

from . import custom_fields as cf
from .models import CustomField, TicketForm


@dataclass(frozen=True)
class Asked:
    """One field of a form as a customer is asked for it."""

    field: CustomField
    required: bool


def _load_fields() -> list[CustomField]:
    fields = list(CustomField.objects.filter(is_active=True)
                  .prefetch_related("categories", "product_areas"))
    for f in fields:
        f.category_ids = frozenset(c.pk for c in f.categories.all())
        f.product_area_ids = frozenset(a.pk for a in f.product_areas.all())
    return fields


def active_fields() -> list[CustomField]:
    """Every active field, in order (shared per process: do not change them)."""
    return config_cache.get("tickets.custom_fields", _load_fields)


def by_key() -> dict[str, CustomField]:
    return {f.key: f for f in active_fields()}


def applies(field: CustomField, category_id: int | None, product_area_id: int | None) -> bool:
    """Whether the field belongs on a ticket of this category and product area."""
    if field.category_ids and category_id not in field.category_ids:
        return False
    return not (field.product_area_ids and product_area_id not in field.product_area_ids)


def _load_forms() -> dict[str, Any]:
    forms = list(TicketForm.objects.filter(is_active=True)
                 .prefetch_related("items__field"))
    return {
        "category": {f.category_id: f for f in forms if f.category_id},
        "product_area": {f.product_area_id: f for f in forms if f.product_area_id},
        "default": next((f for f in forms if f.is_default), None),
    }


def ticket_form_for(category_id: int | None, product_area_id: int | None) -> TicketForm | None:
    """The form for this category (first) or product area, else the default form."""
    forms = config_cache.get("tickets.ticket_forms", _load_forms)
    return (forms["category"].get(category_id) or forms["product_area"].get(product_area_id)
            or forms["default"])


def asked_of_customers(category_id: int | None, product_area_id: int | None) -> list[Asked]:
    """What the portal asks a customer filing under this category and product area: the
    ticket form's fields if a form applies, else every customer-editable field that
    applies. Required: the form's item says so, or the field always is."""
    active = by_key()
    form = ticket_form_for(category_id, product_area_id)
    if form is not None:
        out = []
        for item in form.items.all():
            field = active.get(item.field.key)
            if field is not None and field.customer_editable:
                out.append(Asked(field, item.required or field.customer_required))
        return out
    return [Asked(f, f.customer_required) for f in active.values()
            if f.customer_editable and applies(f, category_id, product_area_id)]


def asked_of_agents(category_id: int | None, product_area_id: int | None) -> list[Asked]:
    """What the agent's new-ticket form asks for this category and product area: the
    ticket form's fields if a form applies (internal ones too), else every active field
    that applies. Required: the form's item says so, or the field always is."""
    active = by_key()
    form = ticket_form_for(category_id, product_area_id)
    if form is not None:
        out = []
        for item in form.items.all():
            field = active.get(item.field.key)
            if field is not None:
                out.append(Asked(field, item.required or field.customer_required))
        return out
    return [Asked(f, f.customer_required) for f in active.values()
            if applies(f, category_id, product_area_id)]


def _check_links(cleaned: Mapping[str, Any], fields: Mapping[str, CustomField],
                 errors: dict[str, str]) -> None:
    wanted: dict[str, set[int]] = {cf.ORGANIZATION: set(), cf.USER: set()}
    for key, value in cleaned.items():
        if value is not None and fields[key].field_type in cf.LINKS:
            wanted[fields[key].field_type].add(value)
    found = {
        cf.ORGANIZATION: set(Organization.objects.filter(pk__in=wanted[cf.ORGANIZATION])
                             .values_list("pk", flat=True)) if wanted[cf.ORGANIZATION] else set(),
        cf.USER: set(User.objects.filter(pk__in=wanted[cf.USER], is_active=True)
                     .values_list("pk", flat=True)) if wanted[cf.USER] else set(),
    }
    for key, value in cleaned.items():
        kind = fields[key].field_type
        if value is not None and kind in cf.LINKS and value not in found[kind]:
            errors[key] = f"No {'organization' if kind == cf.ORGANIZATION else 'user'} #{value}."


def clean_values(raw: Mapping[str, Any], *, customer: bool,
                 category_id: int | None = None, product_area_id: int | None = None
                 ) -> dict[str, Any]:
    """Check `raw` ({key: value}) against the definitions: {key: stored value or None}.

    Customers may give only the fields they may edit that apply to the ticket. Errors are
    raised together, by key (`custom_fields.<key>` for the API)."""
    if not isinstance(raw, Mapping):
        raise ValidationError({"custom_fields": _("Give an object of field keys and values.")})
    fields = by_key()
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    for key, value in raw.items():
        field = fields.get(key)
        if field is None or (customer and not (
                field.customer_editable and applies(field, category_id, product_area_id))):
            errors[key] = "No such field." if field is None or not field.customer_visible \
                else "You cannot change this field."
            continue
        try:
            cleaned[key] = cf.clean_value(field, value)
        except ValidationError as exc:
            errors[key] = " ".join(exc.messages)
    if not errors:
        _check_links(cleaned, fields, errors)
    if errors:
        raise ValidationError({f"custom_fields.{k}": v for k, v in errors.items()})
    return cleaned


def missing_required(values: Mapping[str, Any], category_id: int | None,
                     product_area_id: int | None) -> list[Asked]:
    """The fields the portal requires for this category that `values` leaves empty."""
    return [a for a in asked_of_customers(category_id, product_area_id)
            if a.required and cf.is_empty(values.get(a.field.key))
            and a.field.field_type != cf.CHECKBOX]


def link_names(pairs: Iterable[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """Names of linked organizations and users, two queries at most."""
    pairs = list(pairs)  # read twice below: a generator would give the users nothing
    orgs = {pk for kind, pk in pairs if kind == cf.ORGANIZATION}
    users = {pk for kind, pk in pairs if kind == cf.USER}
    names: dict[tuple[str, int], str] = {}
    if orgs:
        for pk, name in Organization.objects.filter(pk__in=orgs).values_list("pk", "name"):
            names[(cf.ORGANIZATION, pk)] = name
    if users:
        for user in User.objects.filter(pk__in=users).only(
                "id", "first_name", "last_name", "email", "username"):
            names[(cf.USER, user.pk)] = user.display_name
    return names


@dataclass(frozen=True)
class Shown:
    field: CustomField
    value: Any
    text: str


def shown_values(ticket: Any, *, customer: bool) -> list[Shown]:
    """The ticket's fields as a page shows them: for staff every active field that applies
    or has a value; for customers only the visible ones that have a value."""
    values = ticket.custom_fields or {}
    fields = [f for f in active_fields()
              if (f.key in values or not customer and applies(f, ticket.category_id,
                                                             ticket.product_area_id))
              and (f.customer_visible or not customer)]
    names = link_names((f.field_type, values[f.key]) for f in fields
                       if f.field_type in cf.LINKS and f.key in values)
    return [Shown(f, values.get(f.key), cf.shown(f, values.get(f.key), names=names))
            for f in fields]


def visible_values(values: Mapping[str, Any], *, customer: bool) -> dict[str, Any]:
    """The values a reader may see: of active fields, and for customers only the visible
    ones."""
    fields = by_key()
    return {k: v for k, v in values.items()
            if k in fields and (fields[k].customer_visible or not customer)}


def value_q(field: CustomField, value: Any) -> Q:
    """Tickets whose `field` is `value` (a multi-select: has the option), as a filter.

    PostgreSQL: JSON containment (`custom_fields @> '{"key": value}'`), served by the GIN
    index of open tickets (migration 0019) whatever the field. SQLite: the key's value
    (JSON_EXTRACT), a scan, which suits development databases.
    """
    key = field.key
    if connection.vendor == "postgresql":
        wanted = [value] if field.field_type == cf.MULTISELECT else value
        return Q(custom_fields__contains={key: wanted})
    if field.field_type == cf.MULTISELECT:
        # The array as JSON text holds the option as a quoted JSON string.
        return Q(**{f"custom_fields__{key}__icontains": json.dumps(value)})
    return Q(**{f"custom_fields__{key}": value})


def check_conditions_known(conditions: Any) -> None:
    """A rule's or policy's conditions: well formed, on fields that exist (the
    `clean_<field>` of admin forms: the errors are the field's)."""
    try:
        cf.check_conditions(conditions, name="conditions")
    except ValidationError as exc:
        raise ValidationError(exc.message_dict["conditions"]) from None
    fields = by_key()
    unknown = sorted({c["field"] for c in conditions or () if c["field"] not in fields})
    if unknown:
        raise ValidationError(_("No such custom field: %(keys)s.")
                              % {"keys": ", ".join(unknown)})


def check_values_known(values: Any) -> None:
    """A macro's values to set: each a valid value of an existing field (the
    `clean_<field>` of admin forms)."""
    try:
        cf.check_values_setting(values, name="values")
        clean_values(values or {}, customer=False)
    except ValidationError as exc:
        raise ValidationError([f"{k.removeprefix('custom_fields.')}: {' '.join(v)}"
                               if k != "values" else " ".join(v)
                               for k, v in exc.message_dict.items()]) from None


def queue_columns() -> list[CustomField]:
    """The fields admins chose to show as columns of the agent queues."""
    return [f for f in active_fields() if f.show_in_queue]


def label_columns(tickets: list[Any], columns: list[CustomField]) -> None:
    """Set `custom_cells` (the texts of the queue's custom columns) on each ticket; the
    linked names of the whole page in two queries at most."""
    if not columns:
        for t in tickets:
            t.custom_cells = []
        return
    names = link_names((f.field_type, t.custom_fields[f.key]) for t in tickets for f in columns
                       if f.field_type in cf.LINKS and f.key in (t.custom_fields or {}))
    for t in tickets:
        values = t.custom_fields or {}
        t.custom_cells = [cf.shown(f, values.get(f.key), names=names) for f in columns]

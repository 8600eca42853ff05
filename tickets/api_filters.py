"""Query-string filters of the ticket list API.

Related objects are filtered by id without looking them up, so a filter never costs a
query of its own and never tells whether an object you cannot see exists.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from drf_spectacular.drainage import set_override

from helpdesk import config_cache
from helpdesk.api import IdFilter, StrictBooleanFilter, is_agent

from . import custom_fields as cf
from . import field_definitions
from .forms_custom import PREFIX
from .models import OPEN_STATUS_VALUES, STATUS_CHOICES, Channel, Priority, Ticket
from .serializers import value_schema


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 moment, compared in UTC: any offset Python accepts (up to ±24 h) works,
    where the database itself refuses offsets beyond ±15:59."""

    def filter(self, qs: QuerySet, value: datetime | None) -> QuerySet:
        if value is not None and value.tzinfo is not None:
            try:
                value = value.astimezone(UTC)
            except OverflowError:
                # Past the end of time (after 9999) or before its start (year 1) once in
                # UTC: every ticket is before the first and after the second.
                return self._beyond_range(qs, after_the_end=value.year == datetime.max.year)
        return super().filter(qs, value)

    def _beyond_range(self, qs: QuerySet, *, after_the_end: bool) -> QuerySet:
        everything_matches = (self.lookup_expr in ("lt", "lte")) == after_the_end
        return qs if everything_matches else qs.none()


class TicketFilter(django_filters.FilterSet):
    # distinct=False: these are columns of the ticket, not a join (django-filter's
    # default DISTINCT made PostgreSQL sort every matching row, description included).
    status = django_filters.MultipleChoiceFilter(
        choices=STATUS_CHOICES, distinct=False,
        label="Status (repeat for several: ?status=new&status=triaged)",
    )
    priority = django_filters.TypedMultipleChoiceFilter(
        choices=Priority.choices, coerce=int, distinct=False,
        label="Priority 1-5 (repeat for several)",
    )
    team = IdFilter(field_name="team_id", label="Team id")
    assignee = IdFilter(field_name="assignee_id", label="Assignee (user id)")
    unassigned = StrictBooleanFilter(
        field_name="assignee", lookup_expr="isnull", label="Only tickets without an assignee"
    )
    requester = IdFilter(
        field_name="requester_id", label="Requester (user id)"
    )
    organization = IdFilter(
        field_name="organization_id", label="Organization id"
    )
    category = IdFilter(field_name="category_id", label="Category id")
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    tag = django_filters.CharFilter(field_name="tags__name", label="Tag name")
    created_after = UtcDateTimeFilter(
        field_name="created_at", lookup_expr="gte", label="Created at or after (ISO 8601)"
    )
    created_before = UtcDateTimeFilter(
        field_name="created_at", lookup_expr="lt", label="Created before (ISO 8601)"
    )
    open = StrictBooleanFilter(
        method="filter_open", label="true: open tickets only; false: resolved or closed only"
    )

    class Meta:
        model = Ticket
        fields = [
            "status", "priority", "team", "assignee", "unassigned", "requester", "organization",
            "category", "channel", "tag", "created_after", "created_before", "open",
        ]

    def filter_open(self, qs: QuerySet[Ticket], name: str, value: bool) -> QuerySet[Ticket]:
        if value:
            return qs.filter(status__in=OPEN_STATUS_VALUES)
        return qs.exclude(status__in=OPEN_STATUS_VALUES)


# --- custom fields (`?cf_<key>=value`) ---------------------------------------------------

class CustomValueField(forms.CharField):
    """A custom field's value in a query string, checked and typed by the field's own rules
    (`custom_fields.clean_value`): a bad value is a 400 naming the parameter."""

    def __init__(self, *args: Any, key: str, **kwargs: Any) -> None:
        self.key = key
        super().__init__(*args, **kwargs)

    def clean(self, value: Any) -> Any:
        text = super().clean(value)
        if text in (None, ""):
            return None
        definition = field_definitions.by_key().get(self.key)
        if definition is None:
            raise forms.ValidationError(_UNKNOWN)
        cleaned = cf.clean_value(definition, text)
        if definition.field_type == cf.MULTISELECT and cleaned:
            cleaned = cleaned[0]  # one option per parameter: tickets that have it
        return cleaned


class CustomFieldFilter(django_filters.Filter):
    """Tickets whose custom field holds the value (a multi-select: has the option), by the
    same test as the queue's filter (`field_definitions.value_q`: JSON containment on
    PostgreSQL, served by the custom-field GIN index of open tickets)."""

    field_class = CustomValueField

    def filter(self, qs: QuerySet, value: Any) -> QuerySet:
        if value is None:
            return qs
        definition = field_definitions.by_key().get(self.extra["key"])
        if definition is None:
            return qs.none()
        return qs.filter(field_definitions.value_q(definition, value))


class UnknownCustomField(forms.Field):
    """A `cf_` parameter that names no field the reader may filter on: always a 400."""

    def clean(self, value: Any) -> Any:
        raise forms.ValidationError(_UNKNOWN)


class UnknownCustomFieldFilter(django_filters.Filter):
    field_class = UnknownCustomField


_UNKNOWN = ("No such custom field. Filter with cf_<key> on a field listed under "
            "custom_fields in the schema.")


def _parameter_schema(definition: Any) -> dict[str, Any]:
    """The parameter as the schema documents it: the value's own schema (one option of a
    multi-select), typed per field like `custom_fields` in the ticket."""
    schema = value_schema(definition)
    if definition.field_type == cf.MULTISELECT:
        schema = {**schema["items"], "title": schema["title"],
                  "description": schema["description"]}
    schema["description"] = (f"Tickets whose {definition.label} is this value"
                             + (" (has this option)" if definition.field_type == cf.MULTISELECT
                                else "") + ". " + schema["description"])
    return schema


def _custom_filters() -> dict[str, django_filters.Filter]:
    out = {}
    for definition in field_definitions.active_fields():
        if definition.field_type == cf.LONG_TEXT:
            continue  # as in the queue: long texts are read, not matched
        name = f"{PREFIX}{definition.key}"
        flt = CustomFieldFilter(field_name=name, label=definition.label, key=definition.key)
        set_override(flt, "field", _parameter_schema(definition))
        out[name] = flt
    return out


class _CustomFieldsFilterSet(TicketFilter):
    """The list filters with one `cf_<key>` per active custom field (built by
    `ticket_filter_class`). Customers filter only on the fields they see; a `cf_`
    parameter naming any other is a 400, as is a value the field refuses."""

    def __init__(self, data: Any = None, queryset: Any = None, *, request: Any = None,
                 prefix: str | None = None) -> None:
        super().__init__(data, queryset, request=request, prefix=prefix)
        user = getattr(request, "user", None)
        if user is None or not is_agent(user):
            visible = {f"{PREFIX}{f.key}" for f in field_definitions.active_fields()
                       if f.customer_visible}
            for name in [n for n in self.filters if n.startswith(PREFIX)]:
                if name not in visible:
                    del self.filters[name]
        for name in (data or {}):
            if name.startswith(PREFIX) and name not in self.filters:
                unknown = UnknownCustomFieldFilter(field_name=name, label=name)
                unknown.parent = self
                self.filters[name] = unknown


def ticket_filter_class() -> type[TicketFilter]:
    """The ticket list's filter set as the custom field definitions stand (held per
    process; dropped when an admin changes a field)."""
    def build() -> type[TicketFilter]:
        filters = _custom_filters()
        if not filters:
            return _CustomFieldsFilterSet
        # Declared as attributes: django-filter's metaclass collects them.
        return type("TicketFilter", (_CustomFieldsFilterSet,), dict(filters))
    try:
        return config_cache.get("tickets.api_filter_class", build)
    except Exception:  # noqa: BLE001 - no database (a schema built at import time): the
        # fixed filters only, and nothing held, so the next request sees the fields.
        return _CustomFieldsFilterSet

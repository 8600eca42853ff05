"""Query-string filters of the ticket list API.

Related objects are filtered by id without looking them up, so a filter never costs a
query of its own and never tells whether an object you cannot see exists.
"""
from __future__ import annotations

from datetime import UTC, datetime

import django_filters
from django.db.models import QuerySet

from helpdesk.api import IdFilter, StrictBooleanFilter

from .models import OPEN_STATUS_VALUES, STATUS_CHOICES, Channel, Priority, Ticket


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

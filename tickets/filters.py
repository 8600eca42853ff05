"""The filter bar of the agent queues (django-filter); it narrows, it never re-orders."""
from __future__ import annotations

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy

from helpdesk.models import SupportTier, Team
from helpdesk.selectors import agent_choices

from . import custom_fields as cf
from . import field_definitions
from .forms import agent_users
from .forms_custom import PREFIX
from .models import Category, Channel, Priority, Ticket
from .state_machine import LABELS, OPEN_STATUSES, Status
from .widgets import use_fast_selects

ANY, ANYONE, UNASSIGNED = gettext_lazy("Any"), gettext_lazy("Anyone"), gettext_lazy("Unassigned")
OPEN_STATUS_CHOICES = [(s.value, gettext_lazy(LABELS[s])) for s in Status if s in OPEN_STATUSES]


def _agents(request) -> QuerySet:
    return agent_users()


class TicketFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="filter_q", label=gettext_lazy("Search"),
        widget=forms.SearchInput(attrs={"data-shortcut": "search",
                                        "placeholder": gettext_lazy("Subject or #id")}),
    )
    status = django_filters.ChoiceFilter(choices=OPEN_STATUS_CHOICES, empty_label=ANY)
    priority = django_filters.ChoiceFilter(choices=Priority.choices, empty_label=ANY)
    team = django_filters.ModelChoiceFilter(queryset=Team.objects.all(), empty_label=ANY)
    assignee = django_filters.ModelChoiceFilter(
        queryset=_agents, empty_label=ANYONE, null_label=UNASSIGNED,
    )
    category = django_filters.ModelChoiceFilter(queryset=Category.objects.all(),
                                                empty_label=ANY)
    channel = django_filters.ChoiceFilter(choices=Channel.choices, empty_label=ANY)
    tier = django_filters.ChoiceFilter(
        field_name="organization__support_tier", choices=SupportTier.choices,
        empty_label=ANY, label=gettext_lazy("Support tier"),
    )
    tag = django_filters.CharFilter(method="filter_tag", label=gettext_lazy("Tag"))

    class Meta:
        model = Ticket
        fields: list[str] = []  # all declared above

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in field_definitions.active_fields():
            if field.field_type != cf.LONG_TEXT:
                custom = _custom_filter(field)
                custom.parent = self
                self.filters[custom.field_name] = custom
        # ids distinct from the other forms of the page (bulk actions, saved filters)
        self.form.auto_id = "filter_%s"
        use_fast_selects(self.form.fields)
        # Render the agent picker from the cached list (validation still uses the queryset).
        self.form.fields["assignee"].widget.choices = [
            ("", ANYONE), ("null", UNASSIGNED), *agent_choices()]
        self.form.fields["assignee"].label_from_instance = lambda user: user.display_name

    def filter_q(self, queryset: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        value = (value or "").strip()
        if not value:
            return queryset
        match = Q(subject__icontains=value)
        number = value.lstrip("#")
        if number.isdecimal() and len(number) < 19:  # isdigit() also takes "²", which int() refuses
            match |= Q(pk=int(number))
        return queryset.filter(match)

    def filter_custom(self, queryset: QuerySet[Ticket], name: str,
                      value: str) -> QuerySet[Ticket]:
        """Tickets whose custom field is this value (a multi-select: has this option)."""
        field = field_definitions.by_key().get(name.removeprefix(PREFIX))
        if field is None or value in (None, ""):
            return queryset
        try:
            cleaned = cf.clean_value(field, value)
        except ValidationError:
            return queryset.none()
        if cleaned is None:
            return queryset
        if field.field_type == cf.MULTISELECT:
            cleaned = cleaned[0]
        return queryset.filter(field_definitions.value_q(field, cleaned))

    def filter_tag(self, queryset: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        value = (value or "").strip().lower()
        # One tag: the join yields at most one row per ticket, so no DISTINCT is needed.
        return queryset.filter(tags__name=value) if value else queryset


def _custom_filter(field) -> django_filters.Filter:
    """The queue filter of one custom field (`cf_<key>`): its options as a list, a
    yes/no for a checkbox, else the value typed in."""
    common = {"field_name": f"{PREFIX}{field.key}", "method": "filter_custom",
              "label": field.label}
    if field.field_type in cf.WITH_CHOICES:
        return django_filters.ChoiceFilter(choices=[(c, c) for c in field.choices],
                                           empty_label=ANY, **common)
    if field.field_type == cf.CHECKBOX:
        return django_filters.ChoiceFilter(
            choices=[("true", gettext_lazy("Yes")), ("false", gettext_lazy("No"))],
            empty_label=ANY, **common)
    return django_filters.CharFilter(**common)


def is_filtered(params) -> bool:
    """Does the query string carry any filter of the queue (custom fields included)?"""
    return bool(set(TicketFilter.base_filters).intersection(params)) or any(
        name.startswith(PREFIX) for name in params)

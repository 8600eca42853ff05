"""The filter bar of the agent queues (django-filter); it narrows, it never re-orders."""
from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q, QuerySet

from helpdesk.models import SupportTier, Team
from helpdesk.selectors import agent_choices

from .forms import agent_users
from .models import Category, Channel, Priority, Ticket
from .state_machine import LABELS, OPEN_STATUSES, Status
from .widgets import use_fast_selects

OPEN_STATUS_CHOICES = [(s.value, LABELS[s]) for s in Status if s in OPEN_STATUSES]


def _agents(request) -> QuerySet:
    return agent_users()


class TicketFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="filter_q", label="Search",
        widget=forms.SearchInput(attrs={"data-shortcut": "search",
                                        "placeholder": "Subject or #id"}),
    )
    status = django_filters.ChoiceFilter(choices=OPEN_STATUS_CHOICES, empty_label="Any")
    priority = django_filters.ChoiceFilter(choices=Priority.choices, empty_label="Any")
    team = django_filters.ModelChoiceFilter(queryset=Team.objects.all(), empty_label="Any")
    assignee = django_filters.ModelChoiceFilter(
        queryset=_agents, empty_label="Anyone", null_label="Unassigned",
    )
    category = django_filters.ModelChoiceFilter(queryset=Category.objects.all(),
                                                empty_label="Any")
    channel = django_filters.ChoiceFilter(choices=Channel.choices, empty_label="Any")
    tier = django_filters.ChoiceFilter(
        field_name="organization__support_tier", choices=SupportTier.choices,
        empty_label="Any", label="Support tier",
    )
    tag = django_filters.CharFilter(method="filter_tag", label="Tag")

    class Meta:
        model = Ticket
        fields: list[str] = []  # all declared above

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # ids distinct from the other forms of the page (bulk actions, saved filters)
        self.form.auto_id = "filter_%s"
        use_fast_selects(self.form.fields)
        # Render the agent picker from the cached list (validation still uses the queryset).
        self.form.fields["assignee"].widget.choices = [
            ("", "Anyone"), ("null", "Unassigned"), *agent_choices()]  # per request: lazy enough
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

    def filter_tag(self, queryset: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        value = (value or "").strip().lower()
        # One tag: the join yields at most one row per ticket, so no DISTINCT is needed.
        return queryset.filter(tags__name=value) if value else queryset

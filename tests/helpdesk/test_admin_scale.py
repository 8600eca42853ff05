"""The admin at a million tickets: change lists count by estimate, never offer a <select>
of a big table, and cost a fixed number of queries whatever the number of rows."""
from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin.filters import AllValuesFieldListFilter, RelatedFieldListFilter
from django.contrib.admin.widgets import (
    AutocompleteSelect,
    AutocompleteSelectMultiple,
    ForeignKeyRawIdWidget,
    ManyToManyRawIdWidget,
    RelatedFieldWidgetWrapper,
)
from django.db import connection
from django.forms import ModelChoiceField
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from helpdesk.models import Organization, User
from helpdesk.paging import BIG_LIST_PER_PAGE, EstimatedCountPaginator, estimated_count
from qa.models import Review, ReviewEvent
from sla.models import Clock, ClockEvent, ClockLevelFire, ClockPause
from tests.factories import make_ticket
from tickets import services
from tickets.models import (
    Attachment,
    Escalation,
    FollowUp,
    Message,
    Survey,
    Ticket,
    TicketEvent,
    TicketFollower,
    TimeEntry,
)

# Tables that reach millions of rows at 1,000,000 tickets (or hundreds of thousands of
# users and tens of thousands of organizations): never a <select> of them in a form.
BIG = {User, Organization, Ticket, Message, Attachment, TicketEvent, Escalation, TimeEntry,
       Survey, FollowUp, TicketFollower, Clock, ClockEvent, ClockLevelFire, ClockPause,
       Review, ReviewEvent}
# Their change lists: estimated counts, indexed order, no table-wide filters.
BIG_LISTS = BIG - {User, Organization}
SMALL_WIDGETS = (ForeignKeyRawIdWidget, ManyToManyRawIdWidget, AutocompleteSelect,
                 AutocompleteSelectMultiple)


@pytest.fixture
def superuser(db, django_user_model):
    return django_user_model.objects.create_superuser(
        username="super", email="super@example.com", password="pw-Secret-123")


def _request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def test_no_admin_form_offers_a_select_of_a_big_table(superuser, customer_a, agent, l2):
    _tickets_with_history(1, customer_a, agent, l2)
    request = _request(superuser)
    offenders = []
    for model, model_admin in admin.site._registry.items():
        for obj in (None, model._default_manager.first()):
            # Read-only pages render no widgets: only forms a user can submit count.
            if not (model_admin.has_add_permission(request) if obj is None
                    else model_admin.has_change_permission(request, obj)):
                continue
            form = model_admin.get_form(request, obj, change=obj is not None)
            for name, field in form.base_fields.items():
                if not isinstance(field, ModelChoiceField) or field.queryset.model not in BIG:
                    continue
                widget = field.widget
                if isinstance(widget, RelatedFieldWidgetWrapper):
                    widget = widget.widget
                if not isinstance(widget, SMALL_WIDGETS):
                    offenders.append(f"{model.__name__}.{name}")
    assert offenders == []


@pytest.mark.parametrize("model", sorted(BIG_LISTS, key=lambda m: m.__name__),
                         ids=lambda m: m.__name__)
def test_big_change_lists_count_by_estimate_and_order_by_an_index(model, superuser):
    model_admin = admin.site._registry[model]
    request = _request(superuser)
    assert issubclass(model_admin.paginator, EstimatedCountPaginator)
    assert model_admin.show_full_result_count is False
    # Rendering a row costs more than reading it: half Django's default 100 per page.
    assert model_admin.list_per_page <= BIG_LIST_PER_PAGE
    # A date hierarchy reads the distinct dates of the whole table on every page.
    assert not model_admin.date_hierarchy
    first = model_admin.get_ordering(request)[0].lstrip("-")
    field = model._meta.pk if first == "pk" else model._meta.get_field(first)
    assert field.primary_key or field.db_index or field.unique, first
    for spec in model_admin.list_filter:
        filter_class = spec[1] if isinstance(spec, tuple) else None
        name = spec[0] if isinstance(spec, tuple) else spec
        if not isinstance(name, str):
            continue
        f = model._meta.get_field(name)
        if filter_class is None and not f.is_relation and not f.choices \
                and f.get_internal_type() != "BooleanField":
            pytest.fail(f"{name}: AllValuesFieldListFilter reads the whole table")
        assert filter_class is not AllValuesFieldListFilter, name
        if f.is_relation and filter_class in (None, RelatedFieldListFilter):
            assert f.related_model not in BIG, f"{name}: a list of a big table"


def _tickets_with_history(n, customer, agent, l2):
    from tests.factories import PACKET
    for i in range(n):
        ticket = make_ticket(customer, subject=f"Scale {i}")
        services.add_reply(ticket, author=agent, body="Looking", public=True)
        if i % 2:
            services.escalate(ticket, to_team=l2, packet=PACKET, actor=agent)


CHANGE_LISTS = ["tickets_ticket", "tickets_message", "tickets_ticketevent", "sla_clock",
                "qa_review"]


def _queries(client, name: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse(f"admin:{name}_changelist"))
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_change_list_queries_do_not_grow_with_rows(client, superuser, customer_a, agent, l2):
    client.force_login(superuser)
    _tickets_with_history(2, customer_a, agent, l2)
    few = {name: _queries(client, name) for name in CHANGE_LISTS}
    _tickets_with_history(12, customer_a, agent, l2)
    many = {name: _queries(client, name) for name in CHANGE_LISTS}
    assert many == few
    # session, user, count, rows (with their related objects), list-filter choices.
    budgets = {"tickets_ticket": 8, "tickets_message": 6, "tickets_ticketevent": 6,
               "sla_clock": 7, "qa_review": 6}
    assert {n: q for n, q in many.items() if q > budgets[n]} == {}


def test_pages_past_a_low_estimate_are_still_reached(db, customer_a, monkeypatch):
    """The estimate sets the page links; whether a next page exists comes from the rows,
    so walking the pages visits every ticket even when the planner guesses too few."""
    from helpdesk import paging
    for i in range(7):
        make_ticket(customer_a, subject=f"Page {i}")
    monkeypatch.setattr(paging, "planner_estimate", lambda qs: 3)
    monkeypatch.setattr(paging, "EXACT_COUNT_BELOW", 0)
    monkeypatch.setattr(paging.count_rows, "__kwdefaults__", {"exact_below": 0})
    paginator = EstimatedCountPaginator(Ticket.objects.order_by("pk"), 3)
    seen, number = [], 1
    while True:
        page = paginator.page(number)
        seen += [t.subject for t in page.object_list]
        if not page.has_next():
            break
        number += 1
    assert seen == [f"Page {i}" for i in range(7)]
    assert paginator.count == 7  # corrected on the last page
    with pytest.raises(paging.EmptyPage):
        paginator.page(number + 1)


def test_estimated_count_is_exact_on_small_results(db, customer_a):
    for i in range(3):
        make_ticket(customer_a, subject=f"Count {i}")
    qs = Ticket.objects.all()
    assert estimated_count(qs) == 3
    assert estimated_count(qs.filter(subject="Count 1")) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="planner estimates")
def test_big_postgresql_tables_are_counted_from_the_planner(db, customer_a):
    for i in range(5):
        make_ticket(customer_a, subject=f"Estimate {i}")
    with connection.cursor() as cur:
        cur.execute("ANALYZE tickets_ticket")
    with CaptureQueriesContext(connection) as ctx:
        n = estimated_count(Ticket.objects.all(), exact_below=0)
    assert n == 5
    assert not any("COUNT(" in q["sql"].upper() for q in ctx.captured_queries)

"""SLA in the Django admin: every model's pages, read-only clocks, editable calendars with a
one-click import of public holidays, and policy conditions as checkboxes."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import holidays
import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from sla import rollup
from sla.models import (
    BusinessHours,
    Calendar,
    Clock,
    ClockEvent,
    ClockLevelFire,
    ClockPause,
    Holiday,
    Metric,
    Override,
    Policy,
)

from ..factories import make_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(db, django_user_model):
    return django_user_model.objects.create_superuser(
        username="super", email="super@example.com", password="pw-Secret-123")


@pytest.fixture
def client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def office() -> Calendar:
    """Mon–Fri 09:00–17:00 in Berlin, no holidays yet."""
    calendar = Calendar.objects.create(name="Berlin office", timezone="Europe/Berlin",
                                       country="DE")
    BusinessHours.objects.bulk_create([
        BusinessHours(calendar=calendar, weekday=d, start=time(9), end=time(17))
        for d in range(5)])
    return calendar


@pytest.fixture
def one_of_each(office, customer_a, agent):
    """At least one row of every SLA model."""
    Holiday.objects.create(calendar=office, date=date(2026, 12, 24), name="Heiligabend")
    policy = Policy.objects.get(name="Standard support")
    Override.objects.create(name="Black Friday", reason="Known peak",
                            starts_at=datetime(2026, 11, 27, tzinfo=UTC),
                            ends_at=datetime(2026, 11, 30, tzinfo=UTC), factor=2)
    ticket = make_ticket(customer_a)
    now = timezone.now()
    clock = Clock.objects.filter(ticket=ticket).first() or Clock.objects.create(
        ticket=ticket, metric=Metric.FIRST_RESPONSE, policy=policy, target=timedelta(hours=1),
        internal_target=timedelta(minutes=45), started_at=now, segment_started_at=now,
        due_at=now + timedelta(hours=1))
    ClockEvent.objects.create(clock=clock, ticket=ticket, kind="started", at=now)
    ClockLevelFire.objects.create(clock=clock, percent=50, scheduled_at=now, fired_at=now)
    ClockPause.objects.create(clock=clock, ticket=ticket, actor=agent, reason="Waiting",
                              started_at=now)
    # The dashboard rollup of the day before (today's clocks are read live).
    Clock.objects.filter(pk=clock.pk).update(started_at=now - timedelta(days=1))
    rollup.rebuild(days=2, now=now)
    Clock.objects.filter(pk=clock.pk).update(started_at=now)
    return clock


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def flashes(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- every page -------------------------------------------------------------------------------

def test_every_sla_model_is_registered():
    for model in apps.get_app_config("sla").get_models():
        assert admin.site.is_registered(model), model


def test_every_sla_changelist_add_and_change_page_opens(client, one_of_each):
    for model in apps.get_app_config("sla").get_models():
        model_admin = admin.site._registry[model]
        changelist = admin_url(model, "changelist")
        assert client.get(changelist).status_code == 200, model
        for term in ("abc", "1"):
            assert client.get(changelist, {"q": term}).status_code == 200, (model, term)
        request = client.get(changelist).wsgi_request
        if model_admin.has_add_permission(request):
            assert client.get(admin_url(model, "add")).status_code == 200, model
        obj = model._default_manager.first()
        assert obj is not None, model
        assert client.get(admin_url(model, "change", obj.pk)).status_code == 200, model


def test_clock_filters_and_page_show_its_history(client, one_of_each):
    page = client.get(admin_url(Clock, "changelist"), {"state__exact": "running",
                                                       "metric__exact": "first_response"})
    assert page.status_code == 200
    assert one_of_each in page.context["cl"].result_list
    change = client.get(admin_url(Clock, "change", one_of_each.pk)).content.decode()
    assert "Waiting" in change  # the pause, inline and read-only


@pytest.mark.parametrize("model", [Clock, ClockEvent, ClockLevelFire, ClockPause])
def test_clocks_and_their_records_are_read_only(client, one_of_each, model):
    obj = model._default_manager.first()
    model_admin = admin.site._registry[model]
    request = client.get(admin_url(model, "changelist")).wsgi_request
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, obj)
    assert not model_admin.has_delete_permission(request, obj)
    assert client.post(admin_url(model, "change", obj.pk), {}).status_code == 403
    assert client.post(admin_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert model._default_manager.filter(pk=obj.pk).exists()


# --- public holidays ------------------------------------------------------------------------

GERMANY_2026 = {
    date(2026, 1, 1): "Neujahr", date(2026, 4, 3): "Karfreitag",
    date(2026, 4, 6): "Ostermontag", date(2026, 5, 1): "Erster Mai",
    date(2026, 5, 14): "Christi Himmelfahrt", date(2026, 5, 25): "Pfingstmontag",
    date(2026, 10, 3): "Tag der Deutschen Einheit", date(2026, 12, 25): "Erster Weihnachtstag",
    date(2026, 12, 26): "Zweiter Weihnachtstag",
}


def test_change_page_offers_the_import(client, office):
    html = client.get(admin_url(Calendar, "change", office.pk)).content.decode()
    assert reverse("admin:sla_calendar_import_holidays", args=[office.pk]) in html
    assert "Import public holidays" in html


def test_import_form_defaults_to_the_calendars_country_this_year_and_next(client, office):
    form = client.get(reverse("admin:sla_calendar_import_holidays",
                              args=[office.pk])).context["form"]
    this_year = timezone.localdate().year
    assert form.initial == {"country": "DE", "years": f"{this_year}, {this_year + 1}"}


def test_import_adds_germanys_holidays_then_skips_duplicates(client, office):
    url = reverse("admin:sla_calendar_import_holidays", args=[office.pk])
    before = office.updated_at
    calendar_before = office.business_calendar()
    new_years_morning = datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert calendar_before.is_open(new_years_morning)

    first = client.post(url, {"country": "DE", "years": "2026"}, follow=True)

    assert first.redirect_chain[-1][0] == admin_url(Calendar, "change", office.pk)
    assert dict(office.holidays.values_list("date", "name")) == GERMANY_2026
    assert any("added 9 public holidays of DE for 2026." in m for m in flashes(first))
    office.refresh_from_db()
    assert office.updated_at > before  # every process rebuilds its calendar
    assert not office.business_calendar().is_open(new_years_morning)

    second = client.post(url, {"country": "DE", "years": "2026"}, follow=True)

    assert office.holidays.count() == 9
    assert any("added 0 public holidays of DE for 2026; 9 already there, skipped." in m
               for m in flashes(second))


def test_import_keeps_holidays_entered_by_hand(client, office):
    Holiday.objects.create(calendar=office, date=date(2026, 1, 1), name="New Year (ours)")
    client.post(reverse("admin:sla_calendar_import_holidays", args=[office.pk]),
                {"country": "DE", "years": "2026, 2027"})
    assert office.holidays.get(date=date(2026, 1, 1)).name == "New Year (ours)"
    assert office.holidays.filter(date__year=2027).count() == 9
    assert office.holidays.count() == 18


def test_import_refuses_an_unknown_country_and_changes_nothing(client, office):
    response = client.post(reverse("admin:sla_calendar_import_holidays", args=[office.pk]),
                           {"country": "XX", "years": "2026"})
    assert response.status_code == 200
    assert any("No public holidays are known for 'XX'" in m for m in flashes(response))
    assert not office.holidays.exists()

    bad_years = client.post(reverse("admin:sla_calendar_import_holidays", args=[office.pk]),
                            {"country": "DE", "years": "next year"})
    assert "Years are numbers" in str(bad_years.context["form"].errors)


def test_import_action_uses_each_calendars_country_with_a_subdivision(client, office):
    california = Calendar.objects.create(name="San Francisco", timezone="America/Los_Angeles",
                                         country="US-CA")
    nowhere = Calendar.objects.create(name="No country", timezone="UTC")
    changelist = admin_url(Calendar, "changelist")
    selected = [office.pk, california.pk, nowhere.pk]

    ask = client.post(changelist, {"action": "import_public_holidays",
                                   "_selected_action": selected})
    assert ask.status_code == 200
    assert "Import public holidays" in ask.content.decode()
    assert ask.context["form"].initial["country"] == ""  # calendars of several countries

    done = client.post(changelist, {"action": "import_public_holidays",
                                    "_selected_action": selected, "apply": "Import",
                                    "country": "", "years": "2026"}, follow=True)

    assert done.status_code == 200
    assert office.holidays.count() == 9
    expected = holidays.country_holidays("US", subdiv="CA", years=2026)
    assert set(california.holidays.values_list("date", flat=True)) == set(expected)
    assert california.holidays.filter(date=date(2026, 7, 4)).exists()
    messages = flashes(done)
    assert any("No country: no country given" in m for m in messages)
    assert any(f"San Francisco: added {len(expected)} public holidays of US-CA" in m
               for m in messages)


# --- policies and calendar rows -------------------------------------------------------------

def test_policy_conditions_are_checkboxes_with_targets_and_levels_inline(client, l2):
    page = client.get(admin_url(Policy, "add")).content.decode()
    assert 'type="checkbox" name="priorities" value="1"' in page
    assert 'name="targets-TOTAL_FORMS"' in page and 'name="levels-TOTAL_FORMS"' in page

    response = client.post(admin_url(Policy, "add"), {
        "name": "Enterprise P1/P2", "order": 10, "is_active": "on", "description": "",
        "org_tiers": ["enterprise"], "priorities": ["1", "2"], "channels": [],
        "teams": [l2.pk], "apply_tier_multipliers": "on",
        "targets-TOTAL_FORMS": 1, "targets-INITIAL_FORMS": 0,
        "targets-0-priority": 1, "targets-0-metric": "first_response",
        "targets-0-contractual": "00:15:00", "targets-0-internal": "00:10:00",
        "levels-TOTAL_FORMS": 1, "levels-INITIAL_FORMS": 0,
        "levels-0-percent": 100, "levels-0-colour": "breach", "levels-0-notify_managers": "on",
    })

    assert response.status_code == 302, response.context["adminform"].form.errors
    policy = Policy.objects.get(name="Enterprise P1/P2")
    assert (policy.org_tiers, policy.priorities, policy.channels) == (["enterprise"], [1, 2], [])
    assert policy.targets.get().contractual == timedelta(minutes=15)
    assert policy.levels.get().notify_managers


def test_editing_a_holiday_on_its_own_refreshes_the_calendar(client, office):
    before = office.updated_at
    response = client.post(admin_url(Holiday, "add"), {
        "calendar": office.pk, "date": "2026-11-11", "name": "Office closed"})
    assert response.status_code == 302
    office.refresh_from_db()
    assert office.updated_at > before
    assert not office.business_calendar().is_open(datetime(2026, 11, 11, 10, tzinfo=UTC))

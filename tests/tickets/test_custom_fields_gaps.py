"""Custom fields where issue 23 left gaps: merges carry them, the agent's new-ticket form
asks for them, the ticket list API filters on them (typed, documented, clear 400s)."""
from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from tickets import services
from tickets.models import EventKind, Ticket, TicketEvent

from ..factories import make_ticket
from .test_custom_fields import _fresh_config, field  # noqa: F401

pytestmark = pytest.mark.django_db


# --- merge -----------------------------------------------------------------------------

def test_merge_keeps_the_originals_values_and_fills_its_empty_ones(customer_a, agent,
                                                                    fields, org_a):
    original = make_ticket(customer_a, subject="Original",
                           custom_fields={"plan": "Pro", "seats": 5})
    duplicate = make_ticket(customer_a, subject="Duplicate",
                            custom_fields={"plan": "Basic", "version": "4.2",
                                           "modules": ["API"], "account": org_a.pk})
    services.merge(duplicate, into=original, actor=agent)
    original.refresh_from_db()
    assert original.custom_fields == {"plan": "Pro", "seats": 5, "version": "4.2",
                                      "modules": ["API"], "account": org_a.pk}
    carried = {e.field: e for e in TicketEvent.objects.filter(
        ticket=original, kind=EventKind.FIELD, field__startswith="custom:")}
    assert set(carried) == {"custom:version", "custom:modules", "custom:account"}
    assert (carried["custom:account"].before, carried["custom:account"].after,
            carried["custom:account"].actor) == ("", "Acme", agent)
    # The duplicate keeps what it had (its history stays as it was).
    duplicate.refresh_from_db()
    assert duplicate.custom_fields["plan"] == "Basic"


def test_merge_without_values_to_carry_records_no_field_event(customer_a, agent, fields):
    original = make_ticket(customer_a, custom_fields={"plan": "Pro"})
    duplicate = make_ticket(customer_a, custom_fields={"plan": "Basic"})
    services.merge(duplicate, into=original, actor=agent)
    assert not TicketEvent.objects.filter(ticket=original, field__startswith="custom:")
    assert Ticket.objects.get(pk=original.pk).custom_fields == {"plan": "Pro"}


def test_merge_leaves_values_of_retired_fields_behind(customer_a, agent, fields):
    original = make_ticket(customer_a)
    duplicate = make_ticket(customer_a, custom_fields={"version": "1.0", "seats": 3})
    fields["version"].is_active = False
    fields["version"].save()
    services.merge(duplicate, into=original, actor=agent)
    assert Ticket.objects.get(pk=original.pk).custom_fields == {"seats": 3}


# --- the ticket list API's custom-field filters ------------------------------------------

def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def listed(customer_a, org_a, fields):
    values = {
        "a": {"version": "4.2", "seats": 25, "amount": "99.9", "urgent": False,
              "plan": "Basic", "modules": ["CRM", "API"], "account": org_a.pk, "risk": "high"},
        "b": {"renewal": "2027-01-15", "urgent": True, "plan": "Pro", "modules": ["API"],
              "order_ref": "ORD-000002"},
    }
    out = {name: make_ticket(customer_a, subject=f"Ticket {name}", custom_fields=v).pk
           for name, v in values.items()}
    out["none"] = make_ticket(customer_a, subject="Ticket without values").pk
    return out


def names_of(listed: dict, response) -> set[str]:
    assert response.status_code == 200, response.json()
    ids = {row["id"] for row in response.json()["results"]}
    return {name for name, pk in listed.items() if pk in ids}


@pytest.mark.parametrize(("param", "value", "hits"), [
    ("cf_version", "4.2", {"a"}),
    ("cf_seats", "25", {"a"}),
    ("cf_amount", "99.9", {"a"}),
    ("cf_renewal", "2027-01-15", {"b"}),
    ("cf_urgent", "true", {"b"}),
    ("cf_urgent", "false", {"a"}),
    ("cf_plan", "Pro", {"b"}),
    ("cf_modules", "API", {"a", "b"}),
    ("cf_modules", "CRM", {"a"}),
    ("cf_order_ref", "ORD-000002", {"b"}),
    ("cf_account", "1", set()),
    ("cf_risk", "high", {"a"}),
    ("cf_plan", "", {"a", "b", "none"}),  # empty: no filter, as the other filters
])
def test_api_list_filters_on_each_type(agent, listed, org_a, param, value, hits):
    if param == "cf_account":
        value, hits = str(org_a.pk), {"a"}
    response = api_for(agent).get("/api/v1/tickets/", {param: value})
    assert names_of(listed, response) == hits


def test_api_filters_combine_with_the_other_filters(agent, listed):
    response = api_for(agent).get("/api/v1/tickets/", {"cf_modules": "API", "cf_plan": "Pro",
                                                       "open": "true"})
    assert names_of(listed, response) == {"b"}


@pytest.mark.parametrize(("params", "name", "message"), [
    ({"cf_nope": "1"}, "cf_nope", "No such custom field"),
    ({"cf_seats": "many"}, "cf_seats", "Give a whole number."),
    ({"cf_renewal": "15.01.2027"}, "cf_renewal", "Give a date as YYYY-MM-DD."),
    ({"cf_plan": "Gold"}, "cf_plan", "Not an option: Gold."),
    ({"cf_order_ref": "ORD-1"}, "cf_order_ref", "ORD- and six digits"),
    ({"cf_notes": "x"}, "cf_notes", "No such custom field"),  # long text: not filterable
])
def test_api_refuses_an_unknown_field_or_a_bad_value_with_a_400(agent, listed, params, name,
                                                                 message):
    response = api_for(agent).get("/api/v1/tickets/", params)
    assert response.status_code == 400
    body = response.json()
    assert message in " ".join(body["errors"][name]) and name in body["detail"]


def test_customers_filter_only_on_the_fields_they_see(customer_a, listed):
    client = api_for(customer_a)
    assert names_of(listed, client.get("/api/v1/tickets/", {"cf_plan": "Pro"})) == {"b"}
    # An internal field is as unknown to them as a field that does not exist.
    hidden = client.get("/api/v1/tickets/", {"cf_risk": "high"})
    missing = client.get("/api/v1/tickets/", {"cf_nope": "high"})
    assert hidden.status_code == missing.status_code == 400
    assert hidden.json()["errors"]["cf_risk"] == missing.json()["errors"]["cf_nope"]


def test_the_schema_documents_each_filter_with_its_type(client, fields):
    schema = client.get("/api/schema/?format=json").json()
    params = {p["name"]: p for p in schema["paths"]["/api/v1/tickets/"]["get"]["parameters"]}
    assert params["cf_seats"]["schema"]["type"] == "integer"
    assert params["cf_renewal"]["schema"]["format"] == "date"
    assert params["cf_urgent"]["schema"]["type"] == "boolean"
    assert sorted(params["cf_plan"]["schema"]["enum"]) == ["Basic", "Enterprise", "Pro"]
    assert sorted(params["cf_modules"]["schema"]["enum"]) == ["API", "Billing", "CRM"]
    assert "has this option" in params["cf_modules"]["description"]
    assert "internal" in params["cf_risk"]["description"]
    assert "cf_notes" not in params
    assert params["status"]  # the other filters are still there


def test_a_new_field_is_a_filter_at_once(agent, listed):
    field("ticket_no", "number")
    assert api_for(agent).get("/api/v1/tickets/", {"cf_ticket_no": "3"}).status_code == 200


# --- the agent's new-ticket form ---------------------------------------------------------

def test_the_agent_form_swaps_in_the_categorys_fields(client, agent, customer_a, fields,
                                                      billing):
    client.force_login(agent)
    swap = reverse("agent:new_ticket_fields")
    page = client.get(swap, {"category": billing.pk}, HTTP_HX_REQUEST="true").content.decode()
    assert 'name="cf_order_ref"' in page and 'name="cf_amount"' in page
    assert "required" in page.split('name="cf_order_ref"')[1].split(">")[0]
    assert 'name="cf_version"' not in page  # not on this form
    # No form applies: every field that applies, internal ones too (agents set them).
    page = client.get(swap, HTTP_HX_REQUEST="true").content.decode()
    assert 'name="cf_version"' in page and 'name="cf_risk"' in page
    new = client.get(reverse("agent:new_ticket")).content.decode()
    assert f'hx-get="{swap}"' in new and 'hx-target="#custom-fields"' in new
    assert 'name="cf_risk"' in new  # the fields of "no category" from the start
    client.force_login(customer_a)
    assert client.get(swap).status_code == 404  # the workspace is not advertised


def test_the_agent_files_with_the_forms_fields_and_required_ones_are_enforced(
        client, agent, customer_a, fields, billing):
    client.force_login(agent)
    base = {"requester": customer_a.username, "channel": "phone",
            "subject": "Invoice total is wrong", "description": "Charged twice.",
            "category": billing.pk}
    response = client.post(reverse("agent:new_ticket"), base)
    assert response.status_code == 400
    assert "This field is required" in response.content.decode().split('name="cf_order_ref"')[1]
    response = client.post(reverse("agent:new_ticket"), {**base, "cf_order_ref": "ORD-12"})
    assert response.status_code == 400 and "ORD- and six digits" in response.content.decode()
    assert not Ticket.objects.exists()
    response = client.post(reverse("agent:new_ticket"), {
        **base, "cf_order_ref": "ORD-123456", "cf_amount": "12.50", "cf_plan": "Pro"})
    assert response.status_code == 302
    assert Ticket.objects.get().custom_fields == {"order_ref": "ORD-123456",
                                                  "amount": "12.50", "plan": "Pro"}


def test_the_agent_sets_internal_and_link_fields_checked_by_the_service(client, agent,
                                                                       customer_a, fields):
    client.force_login(agent)
    base = {"requester": customer_a.username, "channel": "phone", "subject": "Call",
            "description": "On the phone."}
    response = client.post(reverse("agent:new_ticket"), {**base, "cf_owner": "999999"})
    assert response.status_code == 400
    assert "No user #999999" in response.content.decode().split('name="cf_owner"')[1]
    assert not Ticket.objects.exists()
    response = client.post(reverse("agent:new_ticket"), {
        **base, "cf_risk": "high", "cf_owner": str(agent.pk)})
    assert response.status_code == 302
    assert Ticket.objects.get().custom_fields == {"risk": "high", "owner": agent.pk,
                                                  "urgent": False}

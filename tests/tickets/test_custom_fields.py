"""Custom fields and ticket forms: every field type through the portal, the agent page, the
API and the queue filters; what customers may see and change; rules, macros, SLA policies."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from helpdesk import config_cache
from helpdesk.roles import Role
from sla.models import Policy
from sla.policies import match_policy
from tickets import custom_fields as cf
from tickets import services
from tickets.models import (
    Category,
    CustomField,
    EventKind,
    Macro,
    Ticket,
    TicketEvent,
    TicketForm,
    TicketFormField,
    Trigger,
)

from ..factories import make_ticket, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_config():
    cache.clear()
    config_cache.clear()
    yield
    config_cache.clear()


def field(key: str, kind: str, **kwargs) -> CustomField:
    kwargs.setdefault("label", key.replace("_", " ").capitalize())
    return CustomField.objects.create(key=key, field_type=kind, **kwargs)


@pytest.fixture
def billing(db):
    return Category.objects.create(name="Billing questions", slug="billing-questions")


@pytest.fixture
def fields(db, billing):
    """One field of every type; the customer fills some, others are internal."""
    out = {
        "order_ref": field("order_ref", cf.REGEX, pattern=r"ORD-\d{6}",
                           pattern_hint="ORD- and six digits", customer_visible=True,
                           customer_editable=True),
        "notes": field("notes", cf.LONG_TEXT, customer_visible=True, customer_editable=True),
        "version": field("version", cf.TEXT, customer_visible=True, customer_editable=True),
        "seats": field("seats", cf.NUMBER, customer_visible=True, customer_editable=True),
        "amount": field("amount", cf.DECIMAL, customer_visible=True, customer_editable=True),
        "renewal": field("renewal", cf.DATE, customer_visible=True, customer_editable=True),
        "urgent": field("urgent", cf.CHECKBOX, customer_visible=True, customer_editable=True),
        "plan": field("plan", cf.DROPDOWN, choices=["Basic", "Pro", "Enterprise"],
                      customer_visible=True, customer_editable=True, show_in_queue=True),
        "modules": field("modules", cf.MULTISELECT, choices=["CRM", "Billing", "API"],
                         customer_visible=True, customer_editable=True),
        "risk": field("risk", cf.DROPDOWN, choices=["low", "high"]),  # internal
        "account": field("account", cf.ORGANIZATION),
        "owner": field("owner", cf.USER),
    }
    form = TicketForm.objects.create(name="Billing", category=billing)
    TicketFormField.objects.create(form=form, field=out["order_ref"], required=True, order=1)
    TicketFormField.objects.create(form=form, field=out["amount"], order=2)
    TicketFormField.objects.create(form=form, field=out["plan"], order=3)
    return out


# --- the value rules, pure -------------------------------------------------------------

@pytest.mark.parametrize(("kind", "extra", "raw", "stored"), [
    (cf.TEXT, {}, "  4.2.1 ", "4.2.1"),
    (cf.LONG_TEXT, {}, "line one\nline two", "line one\nline two"),
    (cf.NUMBER, {}, "42", 42),
    (cf.NUMBER, {}, 7, 7),
    (cf.DECIMAL, {}, "12.50", "12.50"),
    (cf.DATE, {}, "2026-12-31", "2026-12-31"),
    (cf.CHECKBOX, {}, "on", True),
    (cf.CHECKBOX, {}, False, False),
    (cf.DROPDOWN, {"choices": ["a", "b"]}, "b", "b"),
    (cf.MULTISELECT, {"choices": ["a", "b", "c"]}, ["c", "a"], ["a", "c"]),
    (cf.REGEX, {"pattern": r"ORD-\d{6}"}, "ORD-123456", "ORD-123456"),
    (cf.ORGANIZATION, {}, "3", 3),
    (cf.USER, {}, 5, 5),
    (cf.TEXT, {}, "   ", None),
    (cf.MULTISELECT, {"choices": ["a"]}, [], None),
])
def test_each_type_stores_a_plain_json_value(kind, extra, raw, stored):
    definition = CustomField(key="k", label="K", field_type=kind, **extra)
    assert cf.clean_value(definition, raw) == stored


@pytest.mark.parametrize(("kind", "extra", "raw", "message"), [
    (cf.NUMBER, {}, "4.5", "whole number"),
    (cf.NUMBER, {}, str(2**60), "Out of range"),
    (cf.DECIMAL, {}, "abc", "Give a number"),
    (cf.DECIMAL, {}, "1.1234567", "digits"),
    (cf.DATE, {}, "31/12/2026", "YYYY-MM-DD"),
    (cf.DROPDOWN, {"choices": ["a"]}, "z", "Not an option"),
    (cf.MULTISELECT, {"choices": ["a"]}, ["a", "z"], "Not an option: z"),
    (cf.REGEX, {"pattern": r"ORD-\d{6}", "pattern_hint": "ORD-123456"}, "ORD-12",
     "ORD-123456"),
    (cf.TEXT, {}, "x" * 300, "At most 255"),
    (cf.TEXT, {}, ["a"], "single value"),
    (cf.CHECKBOX, {}, "maybe", "true or false"),
    (cf.USER, {}, "0", "Out of range"),
])
def test_invalid_values_are_refused_with_a_reason(kind, extra, raw, message):
    definition = CustomField(key="k", label="K", field_type=kind, **extra)
    with pytest.raises(ValidationError) as exc:
        cf.clean_value(definition, raw)
    assert message in " ".join(exc.value.messages)


@pytest.mark.parametrize(("values", "op", "value", "expected"), [
    ({"plan": "Pro"}, "eq", "pro", True),
    ({"plan": "Pro"}, "ne", "Basic", True),
    ({}, "ne", "Basic", True),
    ({}, "eq", "Basic", False),
    ({"plan": "Pro"}, "in", ["Basic", "Pro"], True),
    ({"modules": ["CRM", "API"]}, "eq", "API", True),
    ({"modules": ["CRM", "API"]}, "ne", "API", False),
    ({"version": "4.2.1-beta"}, "contains", "BETA", True),
    ({"seats": 120}, "gt", 100, True),
    ({"seats": 120}, "lte", "100", False),
    ({"amount": "9.50"}, "lt", "10", True),
    ({"amount": "10.00"}, "eq", 10, True),
    ({"renewal": "2026-12-31"}, "gte", "2026-12-07", True),
    ({"renewal": "2026-01-31"}, "gte", "2026-12-07", False),
    ({"urgent": True}, "eq", True, True),
    ({"urgent": False}, "eq", "true", False),
    ({"plan": "Pro"}, "set", None, True),
    ({"plan": "Pro"}, "empty", None, False),
    ({}, "empty", None, True),
    ({"plan": "Pro"}, "gt", 3, False),
])
def test_custom_field_matches_is_the_one_test_of_a_value(values, op, value, expected):
    key = next(iter(values), "plan")
    assert cf.custom_field_matches(values, key, op, value) is expected


def test_the_matcher_takes_a_ticket_too(customer_a):
    ticket = Ticket(custom_fields={"plan": "Pro"})
    assert cf.custom_field_matches(ticket, "plan", "eq", "Pro")
    assert not cf.custom_field_matches(ticket, "plan", "eq", "Basic")
    with pytest.raises(ValueError, match="Unknown operator"):
        cf.custom_field_matches(ticket, "plan", "like", "P%")


# --- admin -----------------------------------------------------------------------------

def test_admin_creates_a_field_and_refuses_definitions_that_cannot_work(client, admin_user):
    client.force_login(admin_user)
    add = reverse("admin:tickets_customfield_add")
    base = {"label": "Plan", "key": "plan", "field_type": cf.DROPDOWN, "order": 100,
            "is_active": "on", "choices": "[]", "help_text": "", "pattern": "",
            "pattern_hint": ""}
    response = client.post(add, base)
    assert response.status_code == 200
    assert "List the options as a JSON list" in response.content.decode()
    response = client.post(add, {**base, "field_type": cf.REGEX, "pattern": "ORD-(\\d"})
    assert "Not a valid regular expression" in response.content.decode()
    response = client.post(add, {**base, "field_type": cf.USER, "customer_visible": "on",
                                 "customer_editable": "on"})
    assert "Customers cannot edit a link" in response.content.decode()
    response = client.post(add, {**base, "key": "Plan Name", "choices": '["Basic"]'})
    assert "lower-case letters" in response.content.decode()
    assert not CustomField.objects.exists()
    response = client.post(add, {**base, "choices": '["Basic", "Pro"]'})
    assert response.status_code == 302
    assert CustomField.objects.get().choices == ["Basic", "Pro"]


def test_admin_refuses_rules_and_macros_on_unknown_fields_or_values(client, admin_user,
                                                                    fields):
    client.force_login(admin_user)
    response = client.post(reverse("admin:tickets_macro_add"), {
        "name": "Upgrade", "body": "", "is_public": "on", "status_reason": "",
        "set_custom_fields": '{"plan": "Gold"}', "is_active": "on"})
    assert "plan: Not an option: Gold" in response.content.decode()
    response = client.post(reverse("admin:tickets_trigger_add"), {
        "name": "VIP", "order": 1, "is_active": "on", "events": ["created"],
        "match_all": "on", "actions": "[]",
        "conditions": '[{"field": "custom_field", "key": "nope", "op": "eq", "value": 1}]'})
    assert "No such custom field: nope" in response.content.decode()
    response = client.post(reverse("admin:tickets_trigger_add"), {
        "name": "VIP", "order": 1, "is_active": "on", "events": ["created"],
        "match_all": "on", "conditions": "[]",
        "actions": '[{"action": "set_custom_field", "value": {"plan": "Gold"}}]'})
    assert "plan: Not an option: Gold" in response.content.decode()
    assert not Macro.objects.exists() and not Trigger.objects.exists()


# --- portal ----------------------------------------------------------------------------

def test_portal_swaps_in_the_categorys_form(client, customer_a, fields, billing):
    client.force_login(customer_a)
    swap = reverse("portal:custom_fields_form")
    page = client.get(swap, {"category": billing.pk}, HTTP_HX_REQUEST="true").content.decode()
    assert 'name="cf_order_ref"' in page and 'name="cf_amount"' in page
    assert "required" in page.split('name="cf_order_ref"')[1].split(">")[0]
    assert 'name="cf_version"' not in page  # not on this form
    assert 'name="cf_risk"' not in page and 'name="cf_owner"' not in page  # internal
    # No category: every customer-editable field that applies, none internal.
    page = client.get(swap, HTTP_HX_REQUEST="true").content.decode()
    assert 'name="cf_version"' in page and 'name="cf_risk"' not in page
    # The category select asks for the swap (htmx, no inline script).
    new = client.get(reverse("portal:new_ticket")).content.decode()
    assert f'hx-get="{swap}"' in new and 'hx-target="#custom-fields"' in new


def test_customer_files_with_the_forms_fields_and_sees_only_visible_ones(
        client, customer_a, fields, billing):
    client.force_login(customer_a)
    base = {"subject": "Invoice total is wrong", "description": "Charged twice.",
            "category": billing.pk}
    response = client.post(reverse("portal:new_ticket"), base)
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    response = client.post(reverse("portal:new_ticket"), {**base, "cf_order_ref": "ORD-12"})
    assert "ORD- and six digits" in response.content.decode()
    assert not Ticket.objects.exists()

    response = client.post(reverse("portal:new_ticket"), {
        **base, "cf_order_ref": "ORD-123456", "cf_amount": "12.50", "cf_plan": "Pro"})
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.custom_fields == {"order_ref": "ORD-123456", "amount": "12.50",
                                    "plan": "Pro"}
    services.set_custom_fields(ticket, actor=make_user(Role.AGENT, username="ag2"),
                               values={"risk": "high"})
    page = client.get(reverse("portal:ticket", args=[ticket.pk])).content.decode()
    assert "ORD-123456" in page and "12.50" in page
    assert "Risk" not in page and "high" not in page  # internal: never shown


def test_customer_edits_an_editable_field_and_it_is_audited(client, customer_a, fields,
                                                            billing):
    ticket = make_ticket(customer_a, category=billing,
                         custom_fields={"order_ref": "ORD-123456"})
    client.force_login(customer_a)
    response = client.post(reverse("portal:custom_fields", args=[ticket.pk]),
                           {"cf_order_ref": "ORD-654321", "cf_plan": "Basic"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.custom_fields["order_ref"] == "ORD-654321"
    event = TicketEvent.objects.get(ticket=ticket, field="custom:order_ref")
    assert (event.before, event.after, event.actor) == ("ORD-123456", "ORD-654321", customer_a)
    # Internal fields cannot be set by a customer, whatever the route.
    with pytest.raises(ValidationError):
        services.set_custom_fields(ticket, actor=customer_a, values={"risk": "low"})
    with pytest.raises(ValidationError):
        make_ticket(customer_a, actor=customer_a, custom_fields={"risk": "low"})


# --- agent page ------------------------------------------------------------------------

def test_agent_sees_and_edits_every_type_on_the_ticket_page(client, agent, customer_a,
                                                            fields, org_a):
    ticket = make_ticket(customer_a)
    client.force_login(agent)
    page = client.get(reverse("agent:ticket", args=[ticket.pk])).content.decode()
    assert 'id="custom-fields-panel"' in page and 'name="cf_risk"' in page
    response = client.post(reverse("agent:custom_fields", args=[ticket.pk]), {
        "cf_order_ref": "ORD-000001", "cf_notes": "Long\ntext", "cf_version": "4.2",
        "cf_seats": "25", "cf_amount": "99.90", "cf_renewal": "2027-01-15",
        "cf_urgent": "on", "cf_plan": "Enterprise", "cf_modules": ["API", "CRM"],
        "cf_risk": "high", "cf_account": str(org_a.pk), "cf_owner": str(agent.pk)})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.custom_fields == {
        "order_ref": "ORD-000001", "notes": "Long\ntext", "version": "4.2", "seats": 25,
        "amount": "99.90", "renewal": "2027-01-15", "urgent": True, "plan": "Enterprise",
        "modules": ["CRM", "API"], "risk": "high", "account": org_a.pk, "owner": agent.pk}
    page = client.get(reverse("agent:ticket", args=[ticket.pk])).content.decode()
    assert "Acme" in page and "CRM, API" in page and "Yes" in page
    changed = set(TicketEvent.objects.filter(ticket=ticket, kind=EventKind.FIELD,
                                             field__startswith="custom:")
                  .values_list("field", flat=True))
    assert changed == {f"custom:{k}" for k in fields}
    account = TicketEvent.objects.get(ticket=ticket, field="custom:account")
    assert account.after == "Acme" and not account.is_public
    # A bad value is refused and nothing changes.
    response = client.post(reverse("agent:custom_fields", args=[ticket.pk]),
                           {"cf_account": "999999"})
    assert response.status_code == 400
    ticket.refresh_from_db()
    assert ticket.custom_fields["account"] == org_a.pk


# --- API -------------------------------------------------------------------------------

def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_api_reads_and_writes_typed_values(agent, customer_a, fields, billing):
    client = client_for(customer_a)
    response = client.post("/api/v1/tickets/", {
        "subject": "Refund", "description": "Please refund.", "category": billing.pk,
        "custom_fields": {"order_ref": "ORD-111111", "seats": 3}}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["custom_fields"] == {"order_ref": "ORD-111111", "seats": 3}
    response = client.post("/api/v1/tickets/", {
        "subject": "Refund", "description": "Please refund.", "category": billing.pk,
        "custom_fields": {"seats": 3}}, format="json")
    assert response.status_code == 400
    assert "custom_fields.order_ref" in response.json()["errors"]

    ticket_id = body["id"]
    staff = client_for(agent)
    response = staff.patch(f"/api/v1/tickets/{ticket_id}/", {"custom_fields": {
        "risk": "high", "urgent": True, "renewal": "2027-02-01", "seats": None}},
        format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["custom_fields"] == {
        "order_ref": "ORD-111111", "risk": "high", "urgent": True, "renewal": "2027-02-01"}
    response = staff.patch(f"/api/v1/tickets/{ticket_id}/",
                           {"custom_fields": {"plan": "Gold"}}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"custom_fields.plan": ["Not an option: Gold."]}
    # The customer reads only the visible fields.
    seen = client.get(f"/api/v1/tickets/{ticket_id}/").json()["custom_fields"]
    assert seen == {"order_ref": "ORD-111111", "urgent": True, "renewal": "2027-02-01"}


def test_openapi_schema_documents_each_field_with_its_type(client, fields):
    schema = client.get("/api/schema/?format=json").json()
    props = schema["components"]["schemas"]["Ticket"]["properties"]["custom_fields"]
    fields_schema = props["properties"]
    assert props["additionalProperties"] is False
    assert fields_schema["seats"]["type"] == "integer"
    assert fields_schema["amount"]["format"] == "decimal"
    assert fields_schema["renewal"]["format"] == "date"
    assert fields_schema["urgent"]["type"] == "boolean"
    assert fields_schema["plan"]["enum"] == ["Basic", "Pro", "Enterprise"]
    assert fields_schema["modules"]["items"]["enum"] == ["CRM", "API", "Billing"] or \
        fields_schema["modules"]["items"]["enum"] == ["CRM", "Billing", "API"]
    assert fields_schema["order_ref"]["pattern"] == r"^(?:ORD-\d{6})$"
    assert "internal" in fields_schema["risk"]["description"]
    write = schema["components"]["schemas"]["PatchedTicketUpdateRequest"]["properties"]
    assert write["custom_fields"]["properties"]["seats"]["nullable"] is True


# --- queue filters, columns, export --------------------------------------------------

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
    ("cf_account", "ORG", set()),
    ("cf_seats", "many", set()),
])
def test_queue_filters_on_each_type(client, agent, customer_a, fields, org_a, param, value,
                                    hits):
    values = {
        "a": {"version": "4.2", "seats": 25, "amount": "99.9", "urgent": False,
              "plan": "Basic", "modules": ["CRM", "API"], "account": org_a.pk},
        "b": {"renewal": "2027-01-15", "urgent": True, "plan": "Pro", "modules": ["API"],
              "order_ref": "ORD-000002"},
    }
    tickets = {name: make_ticket(customer_a, subject=f"Ticket {name}", custom_fields=v)
               for name, v in values.items()}
    make_ticket(customer_a, subject="Ticket without values")
    client.force_login(agent)
    page = client.get(reverse("agent:queue", args=["open"]), {param: value}).content.decode()
    found = {name for name, t in tickets.items() if f'id="ticket-row-{t.pk}"' in page}
    assert found == hits
    assert "Ticket without values" not in page


def test_queue_shows_chosen_columns_and_exports_every_field(client, agent, customer_a,
                                                            fields, org_a):
    make_ticket(customer_a, subject="Seats", custom_fields={"plan": "Pro", "seats": 9})
    services.update_ticket(Ticket.objects.get(), actor=agent,
                           changes={"custom_fields": {"account": org_a.pk}})
    client.force_login(agent)
    page = client.get(reverse("agent:queue", args=["open"])).content.decode()
    assert '<th scope="col">Plan</th>' in page and "<td>Pro</td>" in page
    assert "cf_plan" in page  # its filter in the filter bar
    response = client.get(reverse("agent:queue_export", args=["open"]), {"cf_plan": "Pro"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 1
    assert (rows[0]["plan"], rows[0]["seats"], rows[0]["account"]) == ("Pro", "9", "Acme")
    assert rows[0]["subject"] == "Seats"
    empty = client.get(reverse("agent:queue_export", args=["open"]), {"cf_plan": "Basic"})
    assert len(list(csv.DictReader(io.StringIO(empty.content.decode())))) == 0


def test_filtering_on_a_custom_field_costs_a_fixed_number_of_queries(client, agent,
                                                                   customer_a, fields):
    for n in range(3):
        make_ticket(customer_a, subject=f"T{n}", custom_fields={"plan": "Pro"})
    client.force_login(agent)
    url = reverse("agent:queue", args=["open"])
    client.get(url, {"cf_plan": "Pro"})  # warm: sessions, permissions, configuration
    with CaptureQueriesContext(connection) as few:
        client.get(url, {"cf_plan": "Pro"})
    for n in range(20):
        make_ticket(customer_a, subject=f"More {n}", custom_fields={"plan": "Pro"})
    with CaptureQueriesContext(connection) as many:
        client.get(url, {"cf_plan": "Pro"})
    assert len(few) == len(many)
    selects = [q["sql"] for q in many if "custom_fields" in q["sql"] and "WHERE" in q["sql"]]
    assert selects, "the filter is a WHERE on the column"


# --- rules, macros, SLA ----------------------------------------------------------------

def test_a_creation_trigger_routes_on_a_custom_field_and_sets_one(customer_a, fields, l2):
    Trigger.objects.create(
        name="Enterprise plan to L2", order=1, events=["created"],
        conditions=[{"field": "custom_field", "key": "plan", "op": "eq",
                     "value": "Enterprise"}],
        actions=[{"action": "set_team", "value": l2.name},
                 {"action": "set_custom_field", "value": {"risk": "high"}}])
    routed = make_ticket(customer_a, custom_fields={"plan": "Enterprise"})
    other = make_ticket(customer_a, custom_fields={"plan": "Basic"})
    assert routed.team == l2 and other.team != l2
    routed.refresh_from_db()
    assert routed.custom_fields == {"plan": "Enterprise", "risk": "high"}


def test_a_trigger_sets_a_custom_field_on_update_with_an_audit_row(agent, customer_a, fields):
    ticket = make_ticket(customer_a, custom_fields={"plan": "Basic"})
    Trigger.objects.create(
        name="P1 is risky", events=["priority_changed"],
        conditions=[{"field": "priority", "op": "is", "value": 1},
                    {"field": "custom_field", "key": "risk", "op": "empty"}],
        actions=[{"action": "set_custom_field", "value": {"risk": "high"}}])
    services.update_ticket(ticket, actor=agent, changes={"priority": 1})
    ticket.refresh_from_db()
    assert ticket.custom_fields == {"plan": "Basic", "risk": "high"}
    assert TicketEvent.objects.get(ticket=ticket, field="custom:risk").actor is None
    fired = TicketEvent.objects.get(ticket=ticket, kind="rule")
    assert fired.after == "P1 is risky" and "risk \u2192 high" in fired.note


def test_macro_sets_custom_fields_with_an_audit_row(agent, customer_a, fields):
    ticket = make_ticket(customer_a, custom_fields={"plan": "Basic"})
    macro = Macro.objects.create(name="Escalate risk", set_custom_fields={
        "risk": "high", "plan": None})
    services.apply_macro(ticket, macro, actor=agent)
    ticket.refresh_from_db()
    assert ticket.custom_fields == {"risk": "high"}
    assert set(TicketEvent.objects.filter(ticket=ticket, field__startswith="custom:")
               .values_list("field", flat=True)) == {"custom:risk", "custom:plan"}


def test_sla_policy_condition_on_a_custom_field(customer_a, fields):
    Policy.objects.filter(is_active=True).update(is_active=False)
    enterprise = Policy.objects.create(name="Enterprise plan", order=1, custom_field_conditions=[
        {"field": "plan", "op": "eq", "value": "Enterprise"}])
    fallback = Policy.objects.create(name="Everyone else", order=2)
    config_cache.clear()
    assert match_policy(Ticket(custom_fields={"plan": "Enterprise"})) == enterprise
    assert match_policy(Ticket(custom_fields={"plan": "Pro"})) == fallback
    with pytest.raises(ValidationError):
        Policy(name="bad", custom_field_conditions=[{"field": "plan"}]).full_clean()


def test_a_ticket_without_custom_fields_costs_no_query_for_them(customer_a, agent, fields):
    """The write paths read the definitions from the per-process cache only."""
    make_ticket(customer_a, custom_fields={"plan": "Basic"})  # warm the caches
    with CaptureQueriesContext(connection) as plain:
        ticket = make_ticket(customer_a)
    assert not any("customfield" in q["sql"] or "ticketform" in q["sql"] for q in plain)
    with CaptureQueriesContext(connection) as valued:
        make_ticket(customer_a, custom_fields={"plan": "Pro"})
    assert len(valued) == len(plain)
    with CaptureQueriesContext(connection) as reply:
        services.add_reply(ticket, author=agent, body="Looking into it.")
    assert not any("customfield" in q["sql"] or "ticketform" in q["sql"] for q in reply)


def test_changes_older_than_now_keep_their_event_time(agent, customer_a, fields):
    ticket = make_ticket(customer_a)
    before = ticket.updated_at
    services.update_ticket(ticket, actor=agent, changes={"custom_fields": {"seats": 4}})
    ticket.refresh_from_db()
    assert ticket.updated_at > before - timedelta(seconds=1)
    # The same value again changes nothing: no event, same version.
    version = services.version_of(ticket)
    services.update_ticket(ticket, actor=agent, changes={"custom_fields": {"seats": "4"}})
    ticket.refresh_from_db()
    assert services.version_of(ticket) == version
    assert TicketEvent.objects.filter(ticket=ticket, field="custom:seats").count() == 1


def test_the_benchmarked_filter_is_two_queries_whatever_the_matches(manager, customer_a,
                                                                    fields):
    """What `manage.py bench` times for the custom-field filter: the first page and its
    capped count, nothing per row (the figure the benchmark prints, pinned)."""
    from devdata.bench_custom_fields import filter_page

    for n in range(30):
        make_ticket(customer_a, subject=f"Plan {n}",
                    custom_fields={"plan": "Pro" if n % 3 else "Basic"})
    filter_page(manager, "plan", "Pro")  # warm the configuration cache
    with CaptureQueriesContext(connection) as ctx:
        page = filter_page(manager, "plan", "Pro")
    assert len(ctx) == 2
    assert page.paginator.count == 20 and len(page.object_list) == 20
    assert {t.subject for t in page.object_list} == {f"Plan {n}" for n in range(30) if n % 3}


def test_rules_without_custom_conditions_never_read_the_values(customer_a):
    """SLA policies are matched on tickets loaded with a few columns: a policy without
    custom-field conditions must not load the deferred column (one query per ticket)."""
    ticket = Ticket.objects.only("id", "priority").get(pk=make_ticket(customer_a).pk)
    with CaptureQueriesContext(connection) as ctx:
        assert cf.conditions_hold(ticket, [])
    assert len(ctx) == 0

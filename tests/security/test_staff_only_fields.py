"""User fields that must name staff refuse customers: in the admin, model forms and the API.

An admin who picks a customer as an organization's CSM, as someone an SLA breach alerts,
as an on-call member or an article's owner would send that customer internal content
(alerts quote internal notes). The fields are limited to staff, so the mistake cannot be
made: the customer is not offered, and is refused if sent anyway.
"""
from __future__ import annotations

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.forms import modelform_factory
from django.test import Client
from rest_framework.authtoken.models import Token

from helpdesk.models import Organization, staff_only
from helpdesk.roles import Role
from sla.models import Level
from tests.factories import make_org, make_user

pytestmark = pytest.mark.django_db


def _staff_only_fields():
    return [(model, field) for model in apps.get_models()
            for field in model._meta.get_fields()
            if getattr(field, "remote_field", None) is not None
            and not field.auto_created
            and field.remote_field.limit_choices_to is staff_only]


def test_every_staff_field_is_limited():
    names = {f"{model._meta.label}.{field.name}" for model, field in _staff_only_fields()}
    assert {
        "helpdesk.Organization.csm", "tickets.Ticket.assignee", "tickets.FollowUp.owner",
        "sla.Level.notify_users", "incidents.EscalationStep.user", "incidents.IncidentRole.user",
        "incidents.ActionItem.owner", "knowledge.Article.owner", "workforce.Hire.agent",
        "workforce.ScheduledShift.agent", "workforce.TimeOff.agent",
        "workforce.RotationMember.user", "workforce.OnCallOverride.user",
        "workforce.EscalationStep.user", "qa.CoachingSession.agent", "qa.CoachingSession.coach",
        "qa.CalibrationSession.facilitator", "qa.CalibrationSession.participants",
    } <= names


def test_forms_offer_staff_of_every_role_and_never_a_customer(customer_a, org_admin_a):
    staff = [make_user(role) for role in Role.STAFF]
    root = make_user(Role.CUSTOMER, is_superuser=True, username="root")
    for model, field in _staff_only_fields():
        form = modelform_factory(model, fields=[field.name])()
        offered = set(form.fields[field.name].queryset.values_list("pk", flat=True))
        label = f"{model._meta.label}.{field.name}"
        assert customer_a.pk not in offered and org_admin_a.pk not in offered, label
        assert {u.pk for u in staff} | {root.pk} <= offered, label


def test_model_validation_refuses_a_customer_as_csm(customer_a, agent):
    org = make_org("Initech")
    org.csm = customer_a
    with pytest.raises(ValidationError) as refused:
        org.full_clean()
    assert "csm" in refused.value.message_dict
    org.csm = agent
    org.full_clean()


def test_admin_refuses_a_customer_as_csm_and_as_breach_recipient(admin_user, customer_a,
                                                                   agent, org_a):
    web = Client()
    web.force_login(admin_user)
    # The picker does not offer customers.
    found = web.get("/admin/autocomplete/", {
        "app_label": "helpdesk", "model_name": "organization", "field_name": "csm",
        "term": customer_a.username}).json()["results"]
    assert found == []
    found = web.get("/admin/autocomplete/", {
        "app_label": "helpdesk", "model_name": "organization", "field_name": "csm",
        "term": agent.username}).json()["results"]
    assert [r["id"] for r in found] == [str(agent.pk)]
    # A crafted post naming one anyway is refused and nothing changes.
    page = web.get(f"/admin/helpdesk/organization/{org_a.pk}/change/")
    form = page.context["adminform"].form
    data = {name: value for name, value in form.initial.items()
            if value is not None and not isinstance(value, list)}
    data.update({"csm": customer_a.pk, "name": org_a.name})
    for formset in page.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        for name, value in management.initial.items():
            data[f"{management.prefix}-{name}"] = value
    response = web.post(f"/admin/helpdesk/organization/{org_a.pk}/change/", data)
    assert response.status_code == 200
    assert "csm" in response.context["adminform"].form.errors
    assert Organization.objects.get(pk=org_a.pk).csm_id is None
    data["csm"] = agent.pk
    response = web.post(f"/admin/helpdesk/organization/{org_a.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Organization.objects.get(pk=org_a.pk).csm == agent

    found = web.get("/admin/autocomplete/", {
        "app_label": "sla", "model_name": "level", "field_name": "notify_users",
        "term": customer_a.username}).json()["results"]
    assert found == []
    assert Level._meta.get_field("notify_users").remote_field.limit_choices_to is staff_only


def test_api_refuses_a_customer_as_assignee(ticket_a, agent, customer_a):
    api = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=agent).key}")
    response = api.patch(f"/api/v1/tickets/{ticket_a.pk}/", {"assignee": customer_a.pk},
                         content_type="application/json")
    assert response.status_code == 400
    assert "assignee" in response.json()["errors"]
    ticket_a.refresh_from_db()
    assert ticket_a.assignee_id is None
    response = api.patch(f"/api/v1/tickets/{ticket_a.pk}/", {"assignee": agent.pk},
                         content_type="application/json")
    assert response.status_code == 200, response.content
    ticket_a.refresh_from_db()
    assert ticket_a.assignee == agent

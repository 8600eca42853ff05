"""The audit log of policies and people: admin and service changes, field-level before and
after, read-only, filterable by admins, exportable as CSV."""
from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import Group

from helpdesk import audit
from helpdesk.models import AppendOnlyError, AuditEntry, Membership, NoticeTemplate
from helpdesk.roles import Role
from sla.models import Calendar, Policy
from tickets.models import Trigger

from ..factories import make_user

pytestmark = pytest.mark.django_db


def _value(bound):
    value = bound.value()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else None
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    if hasattr(value, "pk"):
        return str(value.pk)
    return str(value) if not isinstance(value, dict | list) else value


def admin_form_data(response) -> dict:
    """What a browser would post back from an admin change page, unchanged."""
    data: dict = {}

    def add(form):
        for name in form.fields:
            value = _value(form[name])
            if value is not None:
                data[form.add_prefix(name)] = value

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        add(formset.management_form)
        for form in formset.forms:
            add(form)
    return data


def test_admin_change_of_an_sla_policy_is_recorded_field_by_field(client, admin_user):
    policy = Policy.objects.create(name="Enterprise P1", order=10, description="Tight")
    client.force_login(admin_user)
    url = f"/admin/sla/policy/{policy.pk}/change/"
    data = admin_form_data(client.get(url))
    data["order"] = "5"
    data["description"] = "Tighter"
    response = client.post(url, data)
    assert response.status_code == 302, response.content[:2000]
    entry = AuditEntry.objects.filter(model="sla.Policy", action="change").get()
    assert entry.actor == admin_user
    assert entry.object_id == str(policy.pk)
    assert entry.changes == {"order": [10, 5], "description": ["Tight", "Tighter"]}


def test_service_changes_are_recorded_with_the_acting_user(manager):
    with audit.acting_as(manager):
        cal = Calendar.objects.create(name="Berlin office", timezone="Europe/Berlin")
        cal.timezone = "Europe/Paris"
        cal.save()
        cal.delete()
    entries = list(AuditEntry.objects.filter(model="sla.Calendar").order_by("id"))
    assert [e.action for e in entries] == ["create", "change", "delete"]
    assert entries[1].changes == {"timezone": ["Europe/Berlin", "Europe/Paris"]}
    assert entries[2].changes["name"] == ["Berlin office", None]
    assert all(e.actor == manager and e.actor_label == f"user #{manager.pk}" for e in entries)


def test_role_changes_team_membership_and_deactivation_are_recorded(agent, l2):
    agent.groups.add(Group.objects.get(name=Role.MANAGER))
    Membership.objects.create(team=l2, user=agent)
    agent.is_active = False
    agent.save()
    entries = AuditEntry.objects.filter(object_id=str(agent.pk), model="helpdesk.User")
    assert entries.filter(changes__groups=[[], [Role.MANAGER]]).exists()
    assert entries.filter(changes__is_active=[True, False]).exists()
    assert AuditEntry.objects.filter(model="helpdesk.Membership", action="create").exists()
    # The log never copies a password, nor shows a person's name (erasure leaves none).
    for entry in entries:
        assert "password" not in entry.changes
        assert agent.first_name not in entry.object_repr


def test_signing_in_is_not_a_change_of_people(agent):
    from django.contrib.auth.models import update_last_login

    before = AuditEntry.objects.count()
    update_last_login(None, agent)
    assert AuditEntry.objects.count() == before


def test_triggers_notice_templates_and_severities_are_audited():
    from incidents.models import Severity

    Trigger.objects.create(name="VIPs to L2", events=["created"],
                           conditions=[{"field": "text", "op": "contains", "value": "urgent"}])
    NoticeTemplate.objects.create(key="customer.reply", subject="Re", body_text="Hi")
    Severity.objects.filter(level=1).update(name="x")  # bulk updates bypass models: not here
    sev = Severity.objects.order_by("level").first()
    if sev is not None:
        sev.response_minutes += 1
        sev.save()
        assert AuditEntry.objects.filter(model="incidents.Severity").exists()
    models = set(AuditEntry.objects.values_list("model", flat=True))
    assert {"tickets.Trigger", "helpdesk.NoticeTemplate"} <= models


def test_entries_cannot_be_changed_or_deleted(admin_user):
    Calendar.objects.create(name="Tokyo")
    entry = AuditEntry.objects.get(model="sla.Calendar")
    entry.object_repr = "forged"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()


def test_admins_read_and_filter_the_log_others_do_not(client, admin_user, agent, manager):
    Calendar.objects.create(name="Sydney")
    Policy.objects.create(name="Standard")
    client.force_login(admin_user)
    page = client.get("/security/audit/", {"model": "sla.Calendar"})
    assert page.status_code == 200
    assert b"Sydney" in page.content and b"Standard" not in page.content
    for other in (agent, manager):
        client.force_login(other)
        assert client.get("/security/audit/").status_code == 404
        assert client.get("/security/audit.csv").status_code == 404


def test_the_log_exports_as_csv_with_formulas_neutralised(client, admin_user):
    Calendar.objects.create(name="=HYPERLINK(\"http://evil\")")
    client.force_login(admin_user)
    response = client.get("/security/audit.csv", {"model": "sla.Calendar"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:4] == ["at", "actor", "action", "model"]
    name_rows = [r for r in rows[1:] if r[6] == "name"]
    assert name_rows and name_rows[0][8].startswith("'=HYPERLINK")


def test_nothing_in_the_admin_edits_the_log(client, admin_user):
    Calendar.objects.create(name="Lima")
    entry = AuditEntry.objects.first()
    client.force_login(admin_user)
    assert client.get("/admin/helpdesk/auditentry/").status_code == 200
    client.raise_request_exception = False
    assert client.post(f"/admin/helpdesk/auditentry/{entry.pk}/delete/",
                       {"post": "yes"}).status_code == 403
    client.post(f"/admin/helpdesk/auditentry/{entry.pk}/change/", {"object_repr": "x"})
    assert AuditEntry.objects.get(pk=entry.pk).object_repr == "Lima (UTC)"


def test_a_new_customer_signs_up_and_is_recorded_without_their_name(client):
    make_user(Role.CUSTOMER, username="zed", first_name="Zedekiah")
    entry = AuditEntry.objects.filter(model="helpdesk.User", action="create").last()
    assert entry.object_repr.startswith("user #")


def test_every_audited_label_names_an_installed_model():
    """A renamed model must not silently drop out of the audit."""
    from django.apps import apps

    audited = set(audit.audited_models())
    for label in audit.DEFAULT_AUDITED:
        assert apps.get_model(label) in audited, label

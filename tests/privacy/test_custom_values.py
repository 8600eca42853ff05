"""Custom field values in a person's export and erasure: the export lists the values a
customer sees on their tickets; erasure clears the free-text values of their tickets and
links to them from anyone's ticket, and keeps what describes the case."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from django.conf import settings

from helpdesk.roles import Role
from privacy import services
from tests.factories import make_ticket, make_user
from tickets import custom_fields as cf
from tickets import services as ticket_services
from tickets.models import CustomField, Ticket, TicketEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(org_a):
    return make_user(Role.CUSTOMER, org=org_a, username="zquack", email="zq@example.test",
                     first_name="Zebulon", last_name="Quackenbush")


@pytest.fixture
def valued(person, customer_a, agent, org_a):
    for key, kind, extra in [
        ("serial", cf.TEXT, {"customer_visible": True, "customer_editable": True}),
        ("story", cf.LONG_TEXT, {"customer_visible": True, "customer_editable": True}),
        ("seats", cf.NUMBER, {"customer_visible": True}),
        ("plan", cf.DROPDOWN, {"choices": ["Basic", "Pro"], "customer_visible": True}),
        ("risk_note", cf.TEXT, {}),  # internal
        ("contact", cf.USER, {}),
        ("account", cf.ORGANIZATION, {"customer_visible": True}),
    ]:
        CustomField.objects.create(key=key, label=key.capitalize(), field_type=kind, **extra)
    theirs = make_ticket(person, subject="Printer")
    ticket_services.update_ticket(theirs, actor=agent, changes={"custom_fields": {
        "serial": "SN-1 of Zeb's home printer", "story": "My flat at Elm Road 5",
        "seats": 3, "plan": "Pro", "risk_note": "Angry", "account": org_a.pk}})
    ticket_services.update_ticket(theirs, actor=agent, changes={"custom_fields": {
        "story": None}})  # cleared: lives on in its change events only
    other = make_ticket(customer_a, subject="Colleague's")
    ticket_services.update_ticket(other, actor=agent, changes={"custom_fields": {
        "contact": person.pk, "serial": "SN-2", "seats": 1}})
    return theirs, other


def test_the_export_lists_the_custom_values_a_customer_sees(person, valued,
                                                            django_capture_on_commit_callbacks):
    admin = make_user(Role.ADMIN, username="dpo")
    with django_capture_on_commit_callbacks(execute=True):
        request = services.request_export(subject=person, actor=admin)
    request.refresh_from_db()
    archive = zipfile.ZipFile(Path(settings.MEDIA_ROOT) / request.file)
    tickets = json.loads(archive.read("tickets.json"))
    values = tickets[0]["custom_fields"]
    assert set(values) == {"serial", "seats", "plan", "account"}  # no internal field
    assert values["serial"] == {"label": "Serial", "value": "SN-1 of Zeb's home printer",
                                "shown": "SN-1 of Zeb's home printer"}
    assert values["account"]["shown"] == "Acme"
    assert "Angry" not in archive.read("tickets.json").decode()


def test_erasure_clears_free_text_and_links_to_the_person_and_keeps_the_rest(
        person, valued, org_a, django_capture_on_commit_callbacks):
    theirs, other = valued
    first, second = (make_user(Role.ADMIN, username=n) for n in ("one", "two"))
    request = services.request_erasure(subject=person, actor=first)
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_erasure(request, approver=second)
    assert Ticket.objects.get(pk=theirs.pk).custom_fields == {
        "seats": 3, "plan": "Pro", "account": org_a.pk}
    assert Ticket.objects.get(pk=other.pk).custom_fields == {"serial": "SN-2", "seats": 1}
    trail = TicketEvent.objects.filter(ticket=theirs, field__in=[
        "custom:serial", "custom:story", "custom:risk_note"])
    assert trail.count() == 4 and set(trail.values_list("before", "after")) == {("", "")}
    assert TicketEvent.objects.get(ticket=theirs, field="custom:plan").after == "Pro"
    assert TicketEvent.objects.get(ticket=other, field="custom:contact").after == ""
    assert TicketEvent.objects.get(ticket=other, field="custom:serial").after == "SN-2"

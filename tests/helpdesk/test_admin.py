"""The Django admin: every registered model's pages open, and ticket writes stay audited."""
from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.authtoken.models import Token, TokenProxy

from helpdesk.models import Membership, Organization, Skill, SupportTier, Team
from tests.factories import PACKET, make_ticket
from tickets import services
from tickets.models import (
    Category,
    EventKind,
    Macro,
    ProductArea,
    SavedFilter,
    Ticket,
    TicketEvent,
    Trigger,
)


@pytest.fixture
def superuser(db, django_user_model):
    return django_user_model.objects.create_superuser(
        username="super", email="super@example.com", password="pw-Secret-123")


@pytest.fixture
def client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def one_of_each(superuser, agent, l2, l2_agent, customer_a, org_a):
    """At least one row of every model with an admin page."""
    skill = Skill.objects.create(name="SAML")
    agent.skills.add(skill)
    Category.objects.create(name="Admin test category", slug="admin-test-category")
    ProductArea.objects.create(name="Admin test area", slug="admin-test-area")
    ticket = make_ticket(customer_a, tags=["sso"])
    services.add_reply(ticket, author=agent, body="Note", public=False,
                       attachments=[SimpleUploadedFile("a.txt", b"x")])
    services.escalate(ticket, to_team=l2, packet=PACKET, actor=agent)
    Trigger.objects.create(
        name="Enterprise to L2", events=["created"],
        conditions=[{"field": "org_tier", "op": "in", "value": [SupportTier.ENTERPRISE]}],
        actions=[{"action": "set_team", "value": l2.name}, {"action": "add_tags", "value": "sso"}])
    Macro.objects.create(name="Ask for HAR", body="Hi {{ requester_first_name }}")
    SavedFilter.objects.create(owner=agent, name="Mine", query="assignee=me")
    Token.objects.create(user=agent)
    return ticket


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_every_model_of_our_apps_is_registered():
    for label in ("helpdesk", "tickets"):
        for model in apps.get_app_config(label).get_models():
            assert admin.site.is_registered(model), model


def test_every_changelist_add_and_change_page_opens(client, superuser, one_of_each):
    for model, model_admin in admin.site._registry.items():
        changelist = admin_url(model, "changelist")
        assert client.get(changelist).status_code == 200, model
        if model_admin.search_fields:
            for term in ("abc", "1"):
                assert client.get(changelist, {"q": term}).status_code == 200, (model, term)
        request = client.get(changelist).wsgi_request
        if model_admin.has_add_permission(request):
            assert client.get(admin_url(model, "add")).status_code == 200, model
        obj = model._default_manager.first()
        if obj is None:
            continue
        pk = obj.user_id if model is TokenProxy else obj.pk
        assert client.get(admin_url(model, "change", pk)).status_code == 200, model


def test_ticket_event_admin_is_strictly_read_only(client, one_of_each):
    event = TicketEvent.objects.filter(ticket=one_of_each).first()
    model_admin = admin.site._registry[TicketEvent]
    request = client.get(admin_url(TicketEvent, "changelist")).wsgi_request

    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, event)
    assert not model_admin.has_delete_permission(request, event)
    assert client.get(admin_url(TicketEvent, "add")).status_code == 403
    assert client.post(admin_url(TicketEvent, "add"), {"kind": "note"}).status_code == 403
    assert client.post(admin_url(TicketEvent, "change", event.pk),
                       {"note": "rewritten"}).status_code == 403
    assert client.post(admin_url(TicketEvent, "delete", event.pk),
                       {"post": "yes"}).status_code == 403
    assert client.post(admin_url(TicketEvent, "changelist"), {
        "action": "delete_selected", "_selected_action": [event.pk], "post": "yes",
    }).status_code in (200, 302)
    event.refresh_from_db()
    assert event.note != "rewritten"
    assert TicketEvent.objects.filter(pk=event.pk).exists()


def test_tickets_cannot_be_deleted_in_the_admin(client, one_of_each):
    """Deleting a ticket would cascade away its audit trail."""
    response = client.post(admin_url(Ticket, "delete", one_of_each.pk), {"post": "yes"})
    assert response.status_code == 403
    assert Ticket.objects.filter(pk=one_of_each.pk).exists()


def _ticket_form(ticket: Ticket, **overrides) -> dict:
    data = {
        "subject": ticket.subject, "priority": ticket.priority,
        "category": ticket.category_id or "", "product_area": ticket.product_area_id or "",
        "team": ticket.team_id or "", "assignee": ticket.assignee_id or "",
        "tags": list(ticket.tags.values_list("pk", flat=True)),
    }
    data.update(overrides)
    return data


def test_ticket_change_goes_through_the_service_and_status_is_read_only(
        client, superuser, assigned_ticket_for_admin):
    ticket = assigned_ticket_for_admin
    response = client.post(admin_url(Ticket, "change", ticket.pk),
                           _ticket_form(ticket, priority=1, status="closed"))

    assert response.status_code == 302, response.context["adminform"].form.errors
    ticket.refresh_from_db()
    assert ticket.priority == 1
    assert ticket.status == "assigned"
    assert ticket.events.filter(kind=EventKind.FIELD, field="priority", actor=superuser).exists()


def test_ticket_admin_refuses_a_customer_as_assignee(client, customer_b,
                                                     assigned_ticket_for_admin):
    ticket = assigned_ticket_for_admin
    response = client.post(admin_url(Ticket, "change", ticket.pk),
                           _ticket_form(ticket, assignee=customer_b.pk))
    assert response.status_code == 200
    assert "assignee" in response.context["adminform"].form.errors


def test_ticket_added_in_the_admin_is_created_by_the_service(client, superuser, customer_a):
    response = client.post(admin_url(Ticket, "add"), {
        "requester": customer_a.pk, "subject": "Phoned in", "description": "Printer on fire",
        "channel": "phone", "priority": 2,
    })

    assert response.status_code == 302
    ticket = Ticket.objects.get(subject="Phoned in")
    assert ticket.organization == customer_a.organization
    assert ticket.team is not None  # routed like any other ticket
    assert ticket.events.filter(kind=EventKind.CREATED, actor=superuser).exists()


def test_close_resolved_action(client, agent, assigned_ticket_for_admin, customer_a):
    resolved = assigned_ticket_for_admin
    services.transition(resolved, "resolved", actor=agent)
    still_open = make_ticket(customer_a, subject="Still open")

    response = client.post(admin_url(Ticket, "changelist"), {
        "action": "close_resolved", "_selected_action": [resolved.pk, still_open.pk],
    }, follow=True)

    assert response.status_code == 200
    resolved.refresh_from_db()
    still_open.refresh_from_db()
    assert resolved.status == "closed"
    assert still_open.status != "closed"
    texts = [str(m) for m in response.context["messages"]]
    assert any("Closed 1 ticket" in t for t in texts)
    assert any(f"#{still_open.pk}" in t and "not closed" in t for t in texts)


def test_trigger_events_are_checkboxes_and_rules_are_checked(client, l2):
    page = client.get(admin_url(Trigger, "add"))
    assert b'type="checkbox" name="events" value="created"' in page.content
    assert b"sla_breached" in page.content  # sla's condition, offered through the registry

    form = {"name": "Enterprise email", "order": 10, "is_active": "on", "match_all": "on",
            "events": ["created"],
            "conditions": '[{"field": "org_tier", "op": "in", "value": ["enterprise"]}]',
            "actions": f'[{{"action": "set_tem", "value": "{l2.name}"}}]'}
    refused = client.post(admin_url(Trigger, "add"), form)
    assert refused.status_code == 200 and b"unknown action" in refused.content

    form["actions"] = f'[{{"action": "set_team", "value": "{l2.name}"}}]'
    response = client.post(admin_url(Trigger, "add"), form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    rule = Trigger.objects.get(name="Enterprise email")
    assert rule.events == ["created"] and rule.actions[0]["value"] == l2.name


def test_identity_pages(client, agent, l1, org_a):
    assert client.get(admin_url(Team, "change", l1.pk)).status_code == 200
    membership = Membership.objects.get(user=agent)
    assert client.get(admin_url(Membership, "change", membership.pk)).status_code == 200
    assert client.get(admin_url(type(agent), "change", agent.pk)).status_code == 200
    assert client.get(admin_url(Organization, "change", org_a.pk)).status_code == 200
    assert client.get(admin_url(Group, "changelist")).status_code == 200


@pytest.fixture
def assigned_ticket_for_admin(agent, customer_a):
    ticket = make_ticket(customer_a, subject="Admin edits me")
    assert ticket.status == "assigned"
    return ticket

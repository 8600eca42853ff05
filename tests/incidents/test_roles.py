"""Incident roles and the war-room timeline."""
from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from helpdesk.models import Notification
from helpdesk.roles import Role
from incidents import permissions, services
from incidents.models import EntryKind, IncidentRole, RoleKind, TimelineEntry
from tests.factories import make_user

from .conftest import MIN, START


def roles_of(incident):
    return sorted((r.role, r.user.username) for r in incident.roles.select_related("user"))


def test_commander_assigns_every_role(declare, lead, agent, l2_agent, clock):
    incident = declare()
    services.assign_role(incident, role=RoleKind.TECH_LEAD, user=l2_agent, actor=lead)
    services.assign_role(incident, role=RoleKind.COMMS_LEAD, user=agent, actor=lead)
    services.assign_role(incident, role=RoleKind.SCRIBE, user=agent, actor=lead)
    services.assign_role(incident, role=RoleKind.SME, user=agent, actor=lead)
    services.assign_role(incident, role=RoleKind.SME, user=l2_agent, actor=lead)
    assert roles_of(incident) == [("commander", "lena"), ("comms_lead", "agnes"),
                                  ("scribe", "agnes"), ("sme", "agnes"), ("sme", "leo"),
                                  ("tech_lead", "leo")]
    assert Notification.objects.filter(recipient=agent, source="incidents.role").count() == 3


def test_single_roles_are_replaced_not_doubled(declare, lead, agent, l2_agent):
    incident = declare()
    services.assign_role(incident, role=RoleKind.COMMANDER, user=agent, actor=lead)
    assert roles_of(incident) == [("commander", "agnes")]
    # Assigning the same expert twice keeps one row.
    services.assign_role(incident, role=RoleKind.SME, user=l2_agent, actor=agent)
    services.assign_role(incident, role=RoleKind.SME, user=l2_agent, actor=agent)
    assert IncidentRole.objects.filter(incident=incident, role=RoleKind.SME).count() == 1


def test_only_commander_or_leads_assign_roles(declare, lead, agent, l2_agent):
    incident = declare()
    with pytest.raises(PermissionDenied):  # a plain agent who is not commander
        services.assign_role(incident, role=RoleKind.SCRIBE, user=l2_agent, actor=agent)
    services.assign_role(incident, role=RoleKind.COMMANDER, user=agent, actor=lead)
    incident.refresh_from_db()
    services.assign_role(incident, role=RoleKind.SCRIBE, user=l2_agent, actor=agent)
    assert ("scribe", "leo") in roles_of(incident)


def test_roles_go_to_agents_only(declare, lead, customer_a):
    incident = declare()
    with pytest.raises(ValidationError):
        services.assign_role(incident, role=RoleKind.SCRIBE, user=customer_a, actor=lead)


def test_timeline_is_timestamped_by_the_server(declare, agent, clock):
    incident = declare()
    clock.move_to(START + 7 * MIN)
    entry = services.add_entry(incident, kind=EntryKind.DECISION, body="Roll back 4.2",
                               actor=agent)
    assert entry.created_at == START + 7 * MIN
    services.change_status(incident, status="identified", actor=agent, note="bad deploy")
    kinds = list(incident.timeline.values_list("kind", "body"))
    assert kinds[-1] == ("status", "Status: Investigating → Identified. bad deploy")
    assert kinds[-2] == ("decision", "Roll back 4.2")


def test_timeline_is_append_only(declare):
    incident = declare()
    entry = TimelineEntry.objects.filter(incident=incident).first()
    entry.body = "rewritten"
    with pytest.raises(Exception):
        entry.save()


def test_customer_cannot_write_in_the_room(declare, customer_a):
    incident = declare()
    with pytest.raises(PermissionDenied):
        services.add_entry(incident, kind="note", body="hi", actor=customer_a)


def test_comms_lead_may_publish_but_not_resolve(declare, lead, l2_agent):
    incident = declare()
    services.assign_role(incident, role=RoleKind.COMMS_LEAD, user=l2_agent, actor=lead)
    assert permissions.can_publish(l2_agent, incident)
    assert not permissions.can_manage(l2_agent, incident)
    other = make_user(Role.AGENT)
    assert not permissions.can_publish(other, incident)

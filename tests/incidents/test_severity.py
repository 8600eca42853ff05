"""The severity matrix, its defaults, and declaring with or without an override."""
from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from incidents import services
from incidents.models import EntryKind, IncidentTicket, RoleKind, Severity
from incidents.severity import Impact, Level, UsersAffected, matrix, needs_reason, suggest

# The handbook's matrix, written out cell by cell.
EXPECTED = {
    ("one", "complete"): 3, ("multiple", "complete"): 2, ("all", "complete"): 1,
    ("one", "major"): 4, ("multiple", "major"): 3, ("all", "major"): 2,
    ("one", "minor"): 5, ("multiple", "minor"): 4, ("all", "minor"): 3,
}


@pytest.mark.parametrize(("users", "impact"), list(EXPECTED))
def test_matrix_cell(users, impact):
    assert suggest(users, impact) == Level(EXPECTED[(users, impact)])
    assert suggest(UsersAffected(users), Impact(impact)) == EXPECTED[(users, impact)]


def test_matrix_covers_every_cell_once_in_display_order():
    rows = matrix()
    assert [i for i, _ in rows] == [Impact.COMPLETE, Impact.MAJOR, Impact.MINOR]
    assert [[int(level) for _, level in row] for _, row in rows] == [[3, 2, 1], [4, 3, 2],
                                                                     [5, 4, 3]]


@pytest.mark.parametrize(("users", "impact"), [("everyone", "complete"), ("all", "total"),
                                               ("", "")])
def test_unknown_inputs_are_refused(users, impact):
    with pytest.raises(ValueError):
        suggest(users, impact)


def test_override_needs_reason_only_when_different():
    assert not needs_reason(2, 2)
    assert needs_reason(Level.SEV3, Level.SEV1)


def test_default_severities_are_seeded(db):
    sevs = {s.level: s for s in Severity.objects.prefetch_related("steps")}
    assert [sevs[n].update_every_minutes for n in range(1, 6)] == [15, 30, 120, 480, None]
    assert [sevs[n].response_minutes for n in range(1, 6)] == [15, 30, 60, 240, 480]
    assert [s.after_minutes for s in sevs[1].steps.all()] == [0, 30, 60, 120]
    assert [s.label for s in sevs[1].steps.all()] == ["On-call engineer", "VP Engineering",
                                                      "CTO", "CEO"]
    assert {n for n, s in sevs.items() if s.review_required} == {1, 2}
    assert "status_page" in sevs[1].channels


def test_declare_uses_the_matrix(declare, lead, clock):
    incident = declare(users="all", impact="major")
    assert incident.severity.level == 2 and incident.suggested_level == 2
    assert incident.severity_reason == ""
    assert incident.roles.get().role == RoleKind.COMMANDER
    assert incident.roles.get().user == lead
    first = incident.timeline.first()
    assert first.kind == EntryKind.STATUS and "SEV2" in first.body


def test_override_without_reason_is_refused(declare):
    with pytest.raises(ValidationError):
        declare(users="one", impact="minor", level=1)


def test_override_with_reason_is_kept(declare):
    incident = declare(users="one", impact="minor", level=2, reason="CEO of our largest client")
    assert (incident.suggested_level, incident.severity.level) == (5, 2)
    assert incident.severity_reason == "CEO of our largest client"
    assert "override: CEO of our largest client" in incident.timeline.first().body


def test_declare_from_tickets_links_them(declare, tickets):
    incident = declare(tickets=tickets[:2])
    assert set(IncidentTicket.objects.filter(incident=incident).values_list(
        "ticket_id", flat=True)) == {tickets[0].pk, tickets[1].pk}


def test_customers_cannot_declare(declare, customer_a):
    with pytest.raises(PermissionDenied):
        declare(actor=customer_a)


def test_changing_severity_needs_a_reason_and_moves_cadence(declare, lead, clock):
    incident = declare(users="multiple", impact="major")  # SEV3: every 2 h
    assert (incident.next_update_due_at - incident.declared_at).total_seconds() == 2 * 3600
    with pytest.raises(ValidationError):
        services.change_severity(incident, level=1, reason="", actor=lead)
    incident = services.change_severity(incident, level=1, reason="All regions down",
                                        actor=lead)
    assert incident.severity.level == 1
    assert (incident.next_update_due_at - incident.declared_at).total_seconds() == 15 * 60

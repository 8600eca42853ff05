"""Update reminders and escalation steps: each fires once, and nothing fires after the
incident resolves. The beat job (tasks.run_due) is what runs every minute."""
from __future__ import annotations

from helpdesk.models import Notification
from incidents import services, tasks
from incidents.models import EntryKind, Fire, Incident, RoleKind
from workforce.models import Page

from .conftest import MIN, START


def reminders(incident):
    return incident.timeline.filter(kind=EntryKind.REMINDER).count()


def beat(clock, at):
    clock.move_to(at)
    return tasks.run_due()


def test_sev2_update_reminders_fire_once_each_and_stop_on_resolve(
        declare, run, lead, agent, clock):
    incident = declare(users="multiple", impact="complete")  # SEV2: update every 30 min
    services.assign_role(incident, role=RoleKind.COMMS_LEAD, user=agent, actor=lead)
    assert incident.next_update_due_at == START + 30 * MIN

    beat(clock, START + 29 * MIN)
    assert reminders(incident) == 0
    beat(clock, START + 30 * MIN)
    beat(clock, START + 30 * MIN)  # duplicate beat
    beat(clock, START + 45 * MIN)
    assert reminders(incident) == 1
    notes = Notification.objects.filter(recipient=agent, source="incidents.reminder")
    assert notes.count() == 1
    # Still no update 30 minutes later: a second reminder.
    beat(clock, START + 60 * MIN)
    assert reminders(incident) == 2
    # An update at +65 moves the next due time to +95.
    clock.move_to(START + 65 * MIN)
    run(services.publish_update, incident, kind="update", body="Still on it.", actor=agent)
    incident.refresh_from_db()
    assert incident.next_update_due_at == START + 95 * MIN
    beat(clock, START + 90 * MIN)
    assert reminders(incident) == 2
    clock.move_to(START + 92 * MIN)
    run(services.resolve, incident, body="Fixed.", actor=lead)
    incident.refresh_from_db()
    assert incident.next_update_due_at is None and incident.next_escalation_at is None
    for minutes in (95, 130, 300):
        beat(clock, START + minutes * MIN)
    assert reminders(incident) == 2
    assert notes.count() == 2


def test_reminder_goes_to_commander_without_comms_lead(declare, lead, clock):
    declare()
    beat(clock, START + 30 * MIN)
    assert Notification.objects.filter(recipient=lead, source="incidents.reminder").count() == 1


def test_a_long_gap_gives_one_reminder_not_one_per_missed_slot(declare, clock):
    incident = declare(users="all", impact="complete")  # SEV1: every 15 min
    beat(clock, START + 61 * MIN)
    assert reminders(incident) == 1
    incident.refresh_from_db()
    assert incident.next_update_due_at == START + 75 * MIN


def test_firing_the_same_reminder_twice_fires_once(declare, clock):
    incident = declare()
    clock.move_to(START + 30 * MIN)
    assert services.fire_update_reminder(incident.pk) is True
    # A second worker that read the incident before the first one moved the due time:
    Incident.objects.filter(pk=incident.pk).update(next_update_due_at=START + 30 * MIN)
    assert services.fire_update_reminder(incident.pk) is False
    assert reminders(incident) == 1


def test_sev5_has_no_cadence(declare):
    incident = declare(users="one", impact="minor")
    assert incident.severity.level == 5 and incident.next_update_due_at is None


def test_sev1_escalation_path(declare, run, lead, manager, admin_user, oncall, clock):
    incident = declare(users="all", impact="complete")  # SEV1
    # On-call at once: bob is primary this week.
    page = Page.objects.get()
    assert page.user.username == "bob" and page.dedupe_key.startswith(f"incident:{incident.pk}:")
    esc = incident.timeline.filter(kind=EntryKind.ESCALATION)
    assert esc.count() == 1 and "paged Bob" in esc.get().body
    incident.refresh_from_db()
    assert incident.next_escalation_at == START + 30 * MIN

    beat(clock, START + 29 * MIN)
    assert esc.count() == 1
    beat(clock, START + 30 * MIN)
    beat(clock, START + 31 * MIN)
    assert esc.count() == 2  # VP Engineering = managers, once
    vp = Notification.objects.filter(recipient=manager, source="incidents.escalation")
    assert vp.count() == 1 and vp.get().urgent
    clock.move_to(START + 45 * MIN)
    run(services.resolve, incident, body="Fixed.", actor=lead)
    beat(clock, START + 60 * MIN)
    beat(clock, START + 120 * MIN)
    assert esc.count() == 2  # CTO and CEO never paged
    assert not Notification.objects.filter(recipient=admin_user,
                                           source="incidents.escalation").exists()
    assert Page.objects.count() == 1


def test_escalation_task_twice_pages_once(declare, oncall, clock):
    incident = declare(users="all", impact="complete")
    tasks.escalate_incident(incident.pk)
    tasks.escalate_incident(incident.pk)
    assert Page.objects.count() == 1
    assert Fire.objects.filter(incident=incident, key__startswith="escalation:").count() == 1


def test_without_rotation_the_step_is_recorded(declare, clock):
    incident = declare(users="all", impact="complete")
    body = incident.timeline.get(kind=EntryKind.ESCALATION).body
    assert "no on-call rotation" in body


def test_raising_severity_fires_steps_already_due(declare, lead, manager, run, oncall, clock):
    incident = declare(users="multiple", impact="major")  # SEV3: team leads at once
    clock.move_to(START + 40 * MIN)
    run(services.change_severity, incident, level=1, reason="spreading", actor=lead)
    # SEV1's on-call (0) and VP Eng (30) steps are both past: both fire now, once.
    assert Page.objects.count() == 1
    assert Notification.objects.filter(recipient=manager,
                                       source="incidents.escalation").count() >= 1
    incident.refresh_from_db()
    assert incident.next_escalation_at == START + 60 * MIN

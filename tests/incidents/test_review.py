"""Post-incident review: pre-filled figures, reminders until written, action items."""
from __future__ import annotations

from datetime import date

from django.urls import reverse

from helpdesk.models import Notification
from incidents import selectors, services
from incidents.models import ActionItem, EntryKind, Review
from tickets.models import Ticket

from .conftest import MIN, START

DAY = 24 * 60 * MIN


def test_review_prefill_figures(declare, run, lead, tickets, clock):
    incident = declare(tickets=tickets)  # SEV2
    # One ticket's SLA target passed during the incident, one is at breach level,
    # the third is due tomorrow.
    Ticket.objects.filter(pk=tickets[0].pk).update(sla_due_at=START + 60 * MIN, sla_level="")
    Ticket.objects.filter(pk=tickets[1].pk).update(sla_due_at=START + DAY, sla_level="breach")
    Ticket.objects.filter(pk=tickets[2].pk).update(sla_due_at=START + DAY, sla_level="")
    clock.move_to(START + 95 * MIN)
    run(services.resolve, incident, body="Fixed.", actor=lead)
    incident.refresh_from_db()
    figures = selectors.review_figures(incident)
    assert figures.duration_text == "1 h 35 min"
    assert (figures.tickets, figures.customers, figures.organizations) == (3, 2, 2)
    assert figures.by_tier == [("Enterprise", 1, 2), ("Starter", 1, 1)]
    assert figures.sla_breaches == 2
    review = services.start_review(incident, actor=lead)
    assert "- Duration: 1 h 35 min (2026-03-10 11:00 to 2026-03-10 12:35)" in review.impact
    assert "- SLA breaches during the incident: 2" in review.impact
    assert "  - Enterprise: 1 organisations, 2 tickets" in review.impact
    assert "Status change: Incident declared as SEV2" in review.timeline
    assert review.timeline.count("\n") == incident.timeline.count() - 1


def test_review_reminders_until_written(declare, run, lead, clock):
    incident = declare()  # SEV2: review required
    run(services.resolve, incident, body="Fixed.", actor=lead)
    notes = Notification.objects.filter(recipient=lead, source="incidents.review")
    clock.move_to(START + DAY - MIN)
    services.run_due()
    assert notes.count() == 0
    clock.move_to(START + DAY)
    services.run_due()
    services.run_due()
    assert notes.count() == 1
    clock.move_to(START + 2 * DAY)
    services.run_due()
    assert notes.count() == 2
    review = services.start_review(incident, actor=lead)
    services.save_review(review, actor=lead, complete=True,
                         data={"summary": "Auth DB failover", "root_cause": "Expired cert"})
    clock.move_to(START + 3 * DAY)
    services.run_due()
    assert notes.count() == 2
    assert incident.timeline.filter(kind=EntryKind.REMINDER).count() == 2


def test_no_review_reminder_for_sev3(declare, run, lead, clock):
    incident = declare(users="multiple", impact="major")
    run(services.resolve, incident, body="Fixed.", actor=lead)
    incident.refresh_from_db()
    assert incident.next_review_reminder_at is None


def test_completing_needs_summary_and_root_cause(declare, lead):
    import pytest
    from django.core.exceptions import ValidationError

    review = services.start_review(declare(), actor=lead)
    with pytest.raises(ValidationError):
        services.save_review(review, actor=lead, data={"summary": "x"}, complete=True)


def test_open_actions_across_incidents(client, declare, lead, agent, clock):
    first = services.start_review(declare(title="One"), actor=lead)
    second = services.start_review(declare(title="Two"), actor=lead)
    a = services.add_action(first, title="Alert on cert expiry", owner=agent,
                            due_date=date(2026, 3, 20), actor=lead)
    services.add_action(second, title="Runbook for failover", owner=lead,
                        due_date=date(2026, 3, 15), actor=lead)
    done = services.add_action(second, title="Rotate cert", actor=lead)
    services.set_action_state(done, state=ActionItem.State.DONE, actor=lead)
    assert [x.title for x in selectors.open_actions()] == ["Runbook for failover",
                                                           "Alert on cert expiry"]
    client.force_login(agent)
    page = client.get(reverse("incidents:actions")).content.decode()
    assert "Runbook for failover" in page and "Rotate cert" not in page
    client.post(reverse("incidents:action_state", args=[a.pk]), {"state": "done"})
    a.refresh_from_db()
    assert a.state == "done" and a.completed_at == START


def test_review_page_prefills(client, declare, lead, tickets):
    incident = declare(tickets=tickets)
    client.force_login(lead)
    page = client.get(reverse("incidents:review", args=[incident.pk])).content.decode()
    assert "Linked tickets: 3" in page and "Incident declared as SEV2" in page
    assert not Review.objects.exists()  # reading the draft writes nothing

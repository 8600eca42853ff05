"""Texts the system writes and keeps, read by people who chose German.

Three rules, one per kind of text:
- audit and system records shown to staff (ticket timeline notes, the war room's escalation
  entries, on-call override reasons) keep the English the service stored and are
  translated when shown;
- on-call pages keep their English reason; the rotation page and the paged person's
  notification translate it;
- what a customer reads as part of a message (an incident's reply on their ticket, its
  e-mail, the request's attachment message) is written in that customer's language.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from unittest import mock

import pytest
import time_machine
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from helpdesk.models import Notification
from helpdesk.roles import Role
from incidents import messages as incident_messages
from incidents import services as incidents
from incidents.models import EntryKind, TimelineEntry
from knowledge import services as knowledge
from qa import services as qa
from tests.factories import make_ticket, make_user
from tests.qa.conftest import resolved
from tickets.models import EventKind, Message, TicketEvent
from workforce.models import Page, Rotation, RotationMember
from workforce.page_text import escalated_reason
from workforce.selectors import handoffs
from workforce.services import oncall

START = datetime(2026, 3, 10, 11, tzinfo=UTC)  # a Tuesday, Berlin business hours


@pytest.fixture
def clock(db):
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller



def _page(client, user, name, *args) -> str:
    client.force_login(user)
    response = client.get(reverse(name, args=args))
    assert response.status_code == 200
    return response.content.decode()


# --- (a) ticket timeline notes, on the agent's ticket page and the QA review page --------

# Notes as the services and the seeded history store them, and how each reader sees them.
NOTES = [
    ("assigned by team strategy", "nach der Strategie des Teams zugewiesen"),
    ("customer replied", "Kunde hat geantwortet"),
    ("escalated to another tier", "an eine andere Support-Stufe eskaliert"),
    ("closed automatically", "automatisch geschlossen"),
    ("Round robin", "Reihum"),  # the team's strategy, the reason of the automatic assignment
    ("duplicate of #41", "Duplikat von #41"),
    ("Trigger \u201cVIP first\u201d", "Trigger \u201eVIP first\u201c"),
]


def _with_stored_notes(ticket) -> None:
    TicketEvent.objects.bulk_create([
        TicketEvent(ticket=ticket, kind=EventKind.STATUS, field="status", before="new",
                    after="assigned", note=note, created_at=ticket.created_at)
        for note, _ in NOTES])


def test_the_qa_review_timeline_shows_the_stored_notes_in_the_reviewers_language(
        client, customer_a, agent):
    ticket = resolved(customer_a, agent)
    _with_stored_notes(ticket)
    german = make_user(Role.QA_REVIEWER, username="qarin", language="de")
    english = make_user(Role.QA_REVIEWER, username="quentin")
    review = qa.create_review(ticket=ticket, actor=german, reviewer=german)
    page = _page(client, german, "qa:review", review.pk)
    for stored, shown in NOTES:
        assert f"— {shown}</span>" in page
        if stored != shown and stored not in shown:
            assert f"— {stored}<" not in page
    page = _page(client, english, "qa:review", review.pk)
    for stored, _ in NOTES:
        assert f"— {stored}</span>" in page
    # The record itself is unchanged: it reads the same for every reader.
    assert set(TicketEvent.objects.filter(ticket=ticket, kind=EventKind.STATUS)
               .values_list("note", flat=True)) >= {stored for stored, _ in NOTES}


def test_the_qa_review_history_shows_the_samples_note_in_the_readers_language(
        client, customer_a, agent):
    from qa.models import ReviewEvent

    german = make_user(Role.QA_REVIEWER, username="qarin", language="de")
    english = make_user(Role.QA_REVIEWER, username="quentin")
    # Reviewed by a third person: the history is shown to those not scoring it.
    scoring = make_user(Role.QA_REVIEWER, username="rosa")
    review = qa.create_review(ticket=resolved(customer_a, agent), actor=scoring,
                              reviewer=scoring)
    # As the weekly sample and the ticket-of-the-week switch store them.
    ReviewEvent.objects.bulk_create([
        ReviewEvent(review=review, kind=ReviewEvent.Kind.CREATED, at=review.created_at,
                    note="Weekly random sample of week 2026-W10"),
        ReviewEvent(review=review, kind=ReviewEvent.Kind.TICKET_OF_WEEK, actor=german,
                    at=review.created_at, note="unset")])
    page = _page(client, german, "qa:review", review.pk)
    assert "— Wöchentliche Stichprobe, Woche 2026-W10</span>" in page
    assert "— zurückgenommen</span>" in page
    page = _page(client, english, "qa:review", review.pk)
    assert "— Weekly random sample of week 2026-W10</span>" in page
    assert "— unset</span>" in page


def test_the_agent_ticket_page_shows_the_stored_notes_in_the_agents_language(
        client, kunde, agentin, agent):
    ticket = make_ticket(kunde, subject="Drucker")
    _with_stored_notes(ticket)
    page = _page(client, agentin, "agent:ticket", ticket.pk)
    assert "— nach der Strategie des Teams zugewiesen</span>" in page
    assert "— Kunde hat geantwortet</span>" in page
    assert "— assigned by team strategy<" not in page
    page = _page(client, agent, "agent:ticket", ticket.pk)
    assert "— assigned by team strategy</span>" in page
    assert "— customer replied</span>" in page


def test_what_a_trigger_changed_reads_in_the_agents_language(client, kunde, agentin, agent):
    ticket = make_ticket(kunde, subject="Drucker")
    stored = "priority \u2192 P1; tags + vip; status \u2192 in_progress; notified 2"
    TicketEvent.objects.create(ticket=ticket, kind=EventKind.RULE, field="trigger",
                               after="VIP first", note=stored, created_at=ticket.created_at)
    page = _page(client, agentin, "agent:ticket", ticket.pk)
    assert ("— Priorität → P1; Tags + vip; Status → In Bearbeitung; "
            "2 Personen benachrichtigt</span>") in page
    page = _page(client, agent, "agent:ticket", ticket.pk)
    assert "— priority → P1; tags + vip; status → In progress; notified 2 people</span>" in page


def test_the_sla_history_on_the_ticket_page_reads_in_the_agents_language(client, clock, run,
                                                                         kunde, agentin,
                                                                         agent):
    from sla.models import Clock, ClockEvent

    ticket = run(make_ticket, kunde, subject="Drucker")
    sla_clock = Clock.objects.filter(ticket=ticket).first()
    assert sla_clock is not None, "the default policy starts the clocks"
    for kind, reason in (("level", "75% of the target elapsed"),
                         ("stopped", "ticket resolved (after breach)"),
                         ("paused", "waiting on customer")):
        ClockEvent.objects.create(clock=sla_clock, ticket=ticket, kind=kind, at=START,
                                  reason=reason)
    german = _page(client, agentin, "agent:ticket", ticket.pk)
    for text in ("— Ticket erstellt<", "— 75 % des Ziels verstrichen<",
                 "— Ticket gelöst (nach der Verletzung)<", "— wartet auf Kunden<"):
        assert text in german, text
    english = _page(client, agent, "agent:ticket", ticket.pk)
    for text in ("— ticket created<", "— 75% of the target elapsed<",
                 "— ticket resolved (after breach)<", "— waiting on customer<"):
        assert text in english, text


# --- (c) on-call pages: the reason stays as stored, shown and notified translated ---------

@pytest.fixture
def rotation(clock):
    people = {n: make_user(Role.AGENT, username=n) for n in ("ann", "bob", "cem")}
    people["bob"].language = "de"
    people["bob"].save(update_fields=["language"])
    rot = Rotation.objects.create(name="Platform", timezone="Europe/Berlin", handoff_weekday=0,
                                  handoff_time=time(9), starts_on=date(2026, 3, 2))
    for i, name in enumerate(("ann", "bob", "cem")):
        RotationMember.objects.create(rotation=rot, user=people[name], position=i)
    return rot  # week of 9 March: bob primary, cem secondary


def test_a_page_for_an_escalated_ticket_reads_in_each_readers_language(
        client, rotation, agentin, agent):
    reason = escalated_reason(1, "Printer on fire")
    first = oncall.page(rotation, reason=reason, priority=1, at=START).page
    oncall.create_policy(rotation, name="Default")
    [second] = [p for p in oncall.escalate(first, now=START + timedelta(minutes=16))
                if p.user.username == "cem"]
    # The stored record: English, the same whoever reads it.
    assert first.reason == "P1 escalated: Printer on fire"
    assert Page.objects.get(pk=second.pk).reason == (
        "Escalated (not acknowledged after 15 min): P1 escalated: Printer on fire")
    # Bob chose German, Cem did not: each notification in its reader's language.
    assert Notification.objects.get(recipient=first.user).title == \
        "[P1] Alarmiert: P1 eskaliert: Printer on fire"
    assert Notification.objects.get(recipient=second.user).title == \
        "[P1] Paged: Escalated (not acknowledged after 15 min): P1 escalated: Printer on fire"
    german = _page(client, agentin, "workforce_oncall:rotation", rotation.pk)
    assert "<td>P1 eskaliert: Printer on fire" in german
    assert "<td>Eskaliert (nach 15 Min. nicht bestätigt): P1 eskaliert: Printer on fire" \
        in german
    english = _page(client, agent, "workforce_oncall:rotation", rotation.pk)
    assert "<td>P1 escalated: Printer on fire" in english
    assert "<td>Escalated (not acknowledged after 15 min): P1 escalated: Printer on fire" \
        in english
    assert "eskaliert" not in english


def test_a_swap_without_a_reason_reads_in_the_viewers_language(client, rotation, agentin,
                                                                agent):
    week = handoffs(rotation).week_at(START)
    first, _ = oncall.swap_turns(rotation, week_a=week, week_b=week + 1)
    assert first.reason.startswith("Swap between ")  # stored as the service wrote it
    german = _page(client, agentin, "workforce_oncall:rotation", rotation.pk)
    english = _page(client, agent, "workforce_oncall:rotation", rotation.pk)
    names = first.reason.removeprefix("Swap between ").split(" and ")
    assert f"<td>Tausch zwischen {names[0]} und {names[1]}" in german
    assert f"<td>Swap between {names[0]} and {names[1]}" in english


# --- (a) the war room's escalation entries --------------------------------------------------

@pytest.fixture
def lead_de(l1):
    return make_user(Role.TEAM_LEAD, teams=(l1,), lead=True, username="lotte", language="de")


def test_the_war_rooms_escalation_entries_read_in_the_agents_language(client, clock, run,
                                                                       lead, lead_de):
    incident = run(incidents.declare, title="Login outage", users_affected="multiple",
                   impact="complete", actor=lead)
    for body in ("Escalation +5 min: On call: paged Bob Berg (Platform).",
                 "Escalation +15 min: Managers: notified Mia, Max and 3 more.",
                 "Escalation +30 min: Directors: nobody to notify."):
        TimelineEntry.objects.create(incident=incident, kind=EntryKind.ESCALATION, body=body,
                                     created_at=START)
    german = _page(client, lead_de, "incidents:room", incident.pk)
    assert "Eskalation +5 Min.: On call: Bob Berg alarmiert (Platform)." in german
    assert "Eskalation +15 Min.: Managers: Mia, Max und 3 weitere benachrichtigt." in german
    assert "Eskalation +30 Min.: Directors: niemand zu benachrichtigen." in german
    english = _page(client, lead, "incidents:room", incident.pk)
    assert "Escalation +5 min: On call: paged Bob Berg (Platform)." in english
    assert "Escalation +15 min: Managers: notified Mia, Max and 3 more." in english


def test_what_a_german_lead_does_is_stored_in_the_sites_language_and_read_in_each(
        client, clock, run, lead, lead_de, agent):
    """Entries written during a German request (the lead's) are stored as every other
    entry, so the war room can translate them for each reader."""
    incident = run(incidents.declare, title="Login outage", users_affected="multiple",
                   impact="complete", actor=lead)
    with translation.override("de"):
        run(incidents.publish_update, incident, kind="initial", body="Wir prüfen das.",
            actor=lead_de)
        row = incidents.assign_role(incident, role="scribe", user=agent, actor=lead_de)
        incidents.remove_role(row, actor=lead_de)
    bodies = set(incident.timeline.values_list("body", flat=True))
    assert "Public initial notification: Wir prüfen das." in bodies
    assert f"{agent.display_name} is no longer scribe." in bodies
    german = _page(client, lead_de, "incidents:room", incident.pk)
    assert "Öffentliche Mitteilung (Erstmeldung): Wir prüfen das." in german
    assert f"{agent.display_name} ist nicht mehr Protokoll." in german
    english = _page(client, lead, "incidents:room", incident.pk)
    assert "Public initial notification: Wir prüfen das." in english


def test_the_war_room_says_in_the_agents_language_why_the_cascade_left_a_ticket(
        client, clock, run, lead, lead_de, agent, customer_a):
    from tests.incidents.conftest import close

    done = close(make_ticket(customer_a, subject="Closed before"), agent)
    incident = run(incidents.declare, title="Login outage", users_affected="multiple",
                   impact="complete", actor=lead, tickets=[done])
    run(incidents.resolve, incident, body="Fixed.", actor=lead)
    assert incident.links.get().cascade_note == "already closed"  # as stored
    german = _page(client, lead_de, "incidents:room", incident.pk)
    assert "(bereits „Geschlossen“)" in german
    english = _page(client, lead, "incidents:room", incident.pk)
    assert "(already “Closed”)" in english


# --- (a) at-risk alert details; a drafted playbook in its author's language ----------------

def test_an_at_risk_alert_reads_in_the_csms_and_the_leads_language(client, org_a, kunde,
                                                                    agentin, lead):
    from casework import services as casework
    from casework.models import Signal

    org_a.csm = agentin
    org_a.save()
    ticket = make_ticket(kunde, subject="Export kaputt")
    # As the tag handler stores it.
    alert = casework.raise_signal(org_a, Signal.EXECUTIVE, ticket=ticket,
                                  detail=f"{ticket.reference} tagged as an executive complaint")
    assert alert.detail == f"{ticket.reference} tagged as an executive complaint"
    [note] = Notification.objects.filter(recipient=agentin, source__startswith="casework")
    assert f"— {ticket.reference} als Beschwerde der Geschäftsleitung markiert" in note.body
    german = _page(client, agentin, "casework:at_risk")
    assert f"<td>{ticket.reference} als Beschwerde der Geschäftsleitung markiert</td>" in german
    english = _page(client, lead, "casework:at_risk")
    assert f"<td>{ticket.reference} tagged as an executive complaint</td>" in english


def test_a_playbook_drafted_from_an_investigation_is_in_its_authors_language(
        customer_a, agent, l2_agent, l2):
    from casework import services as casework
    from tests.factories import PACKET
    from tickets import services as ticket_services

    def drafted(language: str):
        ticket = make_ticket(customer_a, subject="Export 401")
        ticket = ticket_services.escalate(ticket, to_team=l2, packet=PACKET, actor=agent)
        casework.save_investigation(ticket, actor=l2_agent, data={
            "goal": "Export invoices", "hypothesis": "Token expired", "next_step": "Rotate"})
        casework.add_evidence(ticket, actor=l2_agent, kind="log", summary="401 at /export")
        ticket = ticket_services.transition(ticket, "resolved", actor=l2_agent)
        with translation.override(language):  # the drafting agent's request
            playbook = casework.playbook_from_investigation(ticket, actor=l2_agent)
        return ticket, playbook, [s.title for s in playbook.steps.all()]

    ticket, playbook, steps = drafted("de")
    assert playbook.name == f"Aus {ticket.reference}: Export 401"
    assert steps == ["Sammeln: Log", "Ursache bestätigen"]
    ticket, playbook, steps = drafted("en")
    assert playbook.name == f"From {ticket.reference}: Export 401"
    assert steps == ["Collect: Log", "Confirm the cause"]


def test_after_an_erasure_each_agents_notification_is_retitled_in_their_language(
        run, customer_a, agent, agentin):
    from helpdesk.notifications import notify
    from privacy import services as privacy

    ticket = make_ticket(customer_a, subject="Alice's invoice")
    for person in (agent, agentin):
        notify(person, title=f"New ticket {ticket.reference}: Alice's invoice",
               source="tickets.new", url=f"/agent/tickets/{ticket.pk}/")
    first, second = (make_user(Role.ADMIN, username=n) for n in ("pia", "paul"))
    request = privacy.request_erasure(subject=customer_a, actor=first, reason="GDPR")
    run(privacy.approve_erasure, request, approver=second)
    label = f"Erased user #{customer_a.pk}"
    assert Notification.objects.get(recipient=agentin).title == \
        f"Zu einem Ticket von {label}"
    assert Notification.objects.get(recipient=agent).title == f"About a ticket of {label}"


# --- (b) the incident's reply on each linked ticket, and its e-mail --------------------------

@pytest.fixture
def outage(clock, run, lead, kunde, customer_b):
    """A public incident linked to a German customer's ticket and an English one's."""
    german = run(make_ticket, kunde, subject="Anmeldung klappt nicht")
    english = run(make_ticket, customer_b, subject="Login error 500")
    incident = run(incidents.declare, title="Login outage", users_affected="multiple",
                   impact="complete", actor=lead, tickets=[german, english])
    return incident, german, english


def _reply(ticket, text: str) -> Message:
    return Message.objects.get(ticket=ticket, is_public=True, body__contains=text)


def test_the_incident_reply_on_each_ticket_is_in_its_requesters_language(client, run, lead,
                                                                         kunde, customer_b,
                                                                         outage):
    incident, german, english = outage
    run(incidents.publish_update, incident, kind="initial", actor=lead,
        body="Engineers are rolling back the release.")
    url = f"/status/incidents/{incident.pk}/"
    body = _reply(german, "rolling back").body
    assert "(Erstmeldung)" in body
    assert f"Verfolgen Sie diese Störung auf unserer Statusseite: {url}" in body
    assert "Follow this incident" not in body
    body = _reply(english, "rolling back").body
    assert "(Initial notification)" in body
    assert f"Follow this incident on our status page: {url}" in body
    # As each customer reads it in the portal.
    page = _page(client, kunde, "portal:ticket", german.pk)
    assert "Verfolgen Sie diese Störung auf unserer Statusseite:" in page
    assert "Engineers are rolling back the release." in page  # the author's words
    page = _page(client, customer_b, "portal:ticket", english.pk)
    assert "Follow this incident on our status page:" in page


def test_the_incident_e_mail_names_the_update_in_the_customers_language(run, lead, kunde,
                                                                        customer_b, outage):
    incident, *_ = outage
    mail.outbox.clear()
    run(incidents.resolve, incident, body="Logins work again.", actor=lead)
    by_person = {m.to[0]: m for m in mail.outbox if "Logins work again." in m.body}
    assert "Lösung: Logins work again." in by_person[kunde.email].body
    assert "Resolution: Logins work again." in by_person[customer_b.email].body
    assert "Lösung" not in by_person[customer_b.email].body


def test_a_ticket_the_resolution_left_waiting_says_why_in_each_readers_language(
        client, run, lead, kunde, agentin, agent, outage):
    """The cascade's reason ("INC-27 resolved") keeps its stored form (a replay finds the
    event by it); the customer's portal and the agent's timeline translate it."""
    incident, german, _ = outage
    run(incidents.resolve, incident, body="Logins work again.", actor=lead,
        ticket_status="waiting_on_customer")
    german.refresh_from_db()
    assert german.waiting_reason == f"{incident.reference} resolved"
    page = _page(client, kunde, "portal:ticket", german.pk)
    assert f"Was wir von Ihnen brauchen:</strong> {incident.reference} behoben" in page
    page = _page(client, agentin, "agent:ticket", german.pk)
    assert f"— {incident.reference} behoben</span>" in page
    page = _page(client, agent, "agent:ticket", german.pk)
    assert f"— {incident.reference} resolved</span>" in page


def test_the_requesters_own_attachment_message_is_in_their_language(client, clock, kunde,
                                                                    customer_b):
    log = SimpleUploadedFile("error.log", b"Traceback: boom\n", content_type="text/plain")
    german = make_ticket(kunde, subject="Fehler", actor=kunde, attachments=[log])
    assert Message.objects.filter(ticket=german,
                                  body="Mit der Anfrage gesendete Anhänge.").exists()
    page = _page(client, kunde, "portal:ticket", german.pk)
    assert "Mit der Anfrage gesendete Anhänge." in page
    log = SimpleUploadedFile("error.log", b"Traceback: boom\n", content_type="text/plain")
    english = make_ticket(customer_b, subject="Error", actor=customer_b, attachments=[log])
    assert Message.objects.filter(ticket=english,
                                  body="Attachments sent with the request.").exists()


def test_an_article_flag_notifies_its_owner_in_their_language(agent, agentin):
    for owner, title in ((agentin, "Artikel als veraltet gemeldet: Reset a password"),
                         (agent, "Article flagged outdated: Reset a password")):
        article = knowledge.create_article(title="Reset a password", author=owner,
                                           body="Steps.", owner=owner)
        reporter = agent if owner is agentin else agentin
        knowledge.flag_article(article, reporter=reporter, kind="outdated", note="Old")
        [note] = Notification.objects.filter(recipient=owner, source="knowledge.flag")
        assert note.title == title


def test_the_weekly_review_reminder_lists_the_articles_in_the_owners_language(agent,
                                                                               agentin):
    with time_machine.travel("2026-01-05 09:00Z"):
        for owner in (agentin, agent):
            article = knowledge.create_article(title="Stale article", author=owner,
                                               body="Steps.", owner=owner,
                                               review_interval_days=30)
            knowledge.publish(article, actor=None)
    with time_machine.travel("2026-03-02 08:00Z"):
        assert knowledge.send_review_reminders() == 2
    notes = Notification.objects.filter(source="knowledge.freshness")
    assert notes.get(recipient=agentin).body == "- Stale article (fällig am 4. Februar 2026)"
    assert notes.get(recipient=agent).body == "- Stale article (due 4 Feb 2026)"


# --- the batched fan-out: one text per language, the same queries --------------------------

def test_a_mixed_language_chunk_costs_the_queries_of_a_one_language_chunk(
        clock, run, lead, kunde, customer_b, django_capture_on_commit_callbacks):
    """The requesters' languages are read with the tickets' lock, the reply built once per
    language: a chunk of German and English requesters writes in as many statements as a
    chunk of English ones, whatever its size."""
    def queries(requesters) -> tuple[int, int]:
        many = [run(make_ticket, person, subject=f"Down {i}")
                for i, person in enumerate(requesters)]
        incident = run(incidents.declare, title=f"Outage of {len(many)}", actor=lead,
                       users_affected="multiple", impact="complete", tickets=many)
        update = incidents.publish_update(incident, kind="update", actor=lead,
                                          body="Engineers are rolling back.")
        with mock.patch.object(incident_messages, "as_reply",
                               wraps=incident_messages.as_reply) as built, \
                CaptureQueriesContext(connection) as ctx, \
                django_capture_on_commit_callbacks(execute=True):
            assert incidents.deliver_chunk(update.pk, limit=100) == len(many)
        german = {t.pk for t in many if t.requester_id == kunde.pk}
        for t in many:
            reply = _reply(t, "rolling back").body
            assert ("Verfolgen Sie" in reply) == (t.pk in german)
        return len(ctx.captured_queries), built.call_count

    english, built = queries([customer_b] * 10)
    assert built == 1
    mixed, built = queries([kunde, customer_b] * 5)
    assert built == 2  # one text per language, not per ticket
    assert mixed == english
    assert queries([kunde, customer_b] * 25)[0] == english

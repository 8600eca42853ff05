"""Incidents in German: the war room and lists for a German-speaking agent, the public
status page for a German browser, and the public update e-mail in each customer's own
language (issue 22)."""
from __future__ import annotations

from django.core import mail
from django.urls import reverse
from django.utils import translation

from helpdesk.models import Notification
from incidents import services


def test_a_german_customer_gets_the_incident_update_in_german_an_english_one_in_english(
        declare, run, lead, tickets, customer_a, customer_b):
    customer_a.language = "de"
    customer_a.save(update_fields=["language"])
    incident = declare(tickets=tickets)
    mail.outbox.clear()
    run(services.publish_update, incident, kind="update",
        body="Engineers are rolling back the release.", actor=lead)
    by_person = {m.to[0]: m for m in mail.outbox}
    german, english = by_person[customer_a.email], by_person[customer_b.email]
    assert german.subject == "Service-Update: Login outage"
    assert "es gibt Neuigkeiten zu einer Störung" in german.body
    assert "Ihre damit verknüpften Anfragen:" in german.body
    assert "Engineers are rolling back the release." in german.body  # the author's words
    assert english.subject == "Service update: Login outage"
    assert "An update on a service incident" in english.body
    assert "Neuigkeiten" not in english.body


def test_the_war_room_list_and_declaration_in_german(client, declare, run, lead, tickets):
    lead.language = "de"
    lead.save(update_fields=["language"])
    incident = declare(tickets=tickets)
    client.force_login(lead)
    room = client.get(reverse("incidents:room", args=[incident.pk])).content.decode()
    assert "Lageraum" in room and "Zur Zeitleiste hinzufügen" in room
    assert "Betroffene Kunden" in room and "Verknüpfte Tickets (3)" in room
    assert "Wird untersucht" in room  # the status label
    assert "Nächstes Update: innerhalb von" in room  # the draft of the next public update
    listing = client.get(reverse("incidents:list")).content.decode()
    assert "<h1>Störungen</h1>" in listing and "Schweregrad" in listing
    declare_page = client.get(reverse("incidents:declare")).content.decode()
    assert "Schweregrad-Matrix" in declare_page and "Vollständiger Ausfall" in declare_page


def test_the_public_status_page_follows_the_visitors_language(client, declare, run, lead,
                                                              tickets):
    incident = declare(tickets=tickets)
    run(services.publish_update, incident, kind="initial", body="Wir prüfen das.", actor=lead)
    german = client.get(reverse("status:page"), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Aktive Störungen" in german and "Wird untersucht" in german
    english = client.get(reverse("status:page"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Active incidents" in english and "Investigating" in english


def test_role_notifications_are_in_the_recipients_language(declare, run, lead, agent):
    agent.language = "de"
    agent.save(update_fields=["language"])
    incident = declare()
    run(services.assign_role, incident, role="scribe", user=agent, actor=lead)
    [note] = Notification.objects.filter(recipient=agent, source="incidents.role")
    assert note.title == f"Ihre Rolle in {incident.reference}: Protokoll – Login outage"


def test_the_shared_timeline_keeps_the_sites_language_whoever_writes_it(declare, lead):
    lead.language = "de"
    lead.save(update_fields=["language"])
    incident = declare()
    with translation.override("de"):  # a German lead's request
        services.change_status(incident, status="identified", actor=lead)
    entry = incident.timeline.filter(kind="status").latest("created_at")
    assert entry.body.startswith("Status: Investigating → Identified.")

"""Casework in German for a German-speaking lead: the dashboard, feedback, at-risk and
voice-of-customer pages and the investigation panel (issue 22)."""
from __future__ import annotations

from tests.factories import PACKET
from tickets import services


def test_the_casework_pages_in_german(client, lead):
    lead.language = "de"
    lead.save(update_fields=["language"])
    client.force_login(lead)
    dashboard = client.get("/casework/dashboard/").content.decode()
    assert "<h1>Technische Fallbearbeitung</h1>" in dashboard
    assert "Der Zeitraum auf einen Blick" in dashboard and "Zeit bis zum ersten Beleg" in dashboard
    feedback = client.get("/casework/feedback/").content.decode()
    assert "<h1>Produkt-Feedback</h1>" in feedback and "Alle Arten" in feedback
    assert "Funktionswunsch" in feedback  # a feedback kind's label
    at_risk = client.get("/casework/at-risk/").content.decode()
    assert "<h1>Gefährdete Kundenkonten</h1>" in at_risk and "Keine Warnungen." in at_risk
    voc = client.get("/casework/voice-of-customer/").content.decode()
    assert "<h1>Stimme des Kunden</h1>" in voc


def test_the_investigation_panel_in_german_and_in_english(client, agent, l2_agent, l2,
                                                          ticket_a):
    services.escalate(ticket_a, to_team=l2, packet=PACKET, actor=agent)
    client.force_login(l2_agent)
    english = client.get(f"/agent/tickets/{ticket_a.pk}/").content.decode()
    assert "Save investigation" in english and "Add evidence" in english
    l2_agent.language = "de"
    l2_agent.save(update_fields=["language"])
    german = client.get(f"/agent/tickets/{ticket_a.pk}/").content.decode()
    assert "Untersuchung speichern" in german and "Beleg hinzufügen" in german
    assert "Noch in Untersuchung" in german  # a decision's label


def test_the_cached_dashboard_totals_row_follows_each_readers_language(client, lead, manager):
    """The figures are cached for five minutes for every reader: the totals row's label is
    translated when shown, so a German lead's visit does not put German on an English
    manager's page (nor the other way round)."""
    lead.language = "de"
    lead.save(update_fields=["language"])
    client.force_login(lead)
    assert '<tr><th scope="row">Alle</th>' in client.get("/casework/dashboard/").content.decode()
    client.force_login(manager)
    english = client.get("/casework/dashboard/").content.decode()
    assert '<tr><th scope="row">All</th>' in english and ">Alle<" not in english

"""German on the staff side: the SLA pages and the ticket's clock panel, the team lead's
and manager's dashboards, the workforce pages, the knowledge-base editor and the ticket
labels (status, priority, channel) speak the reader's language; an English reader keeps
the English wording of the same templates."""
from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import translation

from helpdesk.roles import Role
from knowledge import services as kb
from sla.models import Clock, ClockState, Metric
from tests.factories import make_ticket, make_user
from tickets.models import Channel, Priority, Ticket
from workforce.models import Rotation, RotationMember

pytestmark = pytest.mark.django_db

WEDNESDAY_10 = dt.datetime(2026, 3, 18, 10, 0, tzinfo=dt.UTC)


def page(client, name: str, *args, **params) -> str:
    response = client.get(reverse(name, args=args), params)
    assert response.status_code == 200, (name, response.status_code)
    return response.content.decode()


@pytest.fixture
def lead_de(l1):
    """A team lead who chose German (leads read the deflection dashboard)."""
    return make_user(Role.TEAM_LEAD, teams=(l1,), lead=True, username="lotte", language="de",
                     time_zone="Europe/Berlin")


@pytest.fixture
def running_clock(customer_a, agentin, l1) -> Clock:
    """A ticket of the German agent's team with a first-response clock 45 minutes in."""
    with time_machine.travel(WEDNESDAY_10 - dt.timedelta(minutes=45), tick=False):
        ticket = make_ticket(customer_a, subject="SSO is down")
    Ticket.objects.filter(pk=ticket.pk).update(team=l1, assignee=agentin, priority=Priority.P1)
    Clock.objects.filter(ticket=ticket).delete()  # only the clock below, whatever the policy
    return Clock.objects.create(
        ticket=ticket, metric=Metric.FIRST_RESPONSE, cycle=1, state=ClockState.RUNNING,
        target=dt.timedelta(hours=1), internal_target=dt.timedelta(minutes=45),
        started_at=WEDNESDAY_10 - dt.timedelta(minutes=45),
        segment_started_at=WEDNESDAY_10 - dt.timedelta(minutes=45),
        due_at=WEDNESDAY_10 + dt.timedelta(minutes=15),
        internal_due_at=WEDNESDAY_10)


# --- SLA ------------------------------------------------------------------------------------

def test_the_sla_pages_in_german(client, agentin, running_clock):
    client.force_login(agentin)
    with time_machine.travel(WEDNESDAY_10, tick=False):
        dashboard = page(client, "sla:dashboard")
        approaching = page(client, "sla:approaching", within=60)
        paused = page(client, "sla:paused")
    assert "<h1>SLA-Dashboard</h1>" in dashboard
    assert "Einhaltung der ersten Antwort" in dashboard and "Frühindikator" in dashboard
    assert "Aufgeschlüsselt nach Woche" in dashboard  # the dimension, capitalised in German
    assert "First response compliance" not in dashboard and "Week by week" not in dashboard
    assert "<h1>Drohende SLA-Verletzungen</h1>" in approaching
    assert "1 Uhr innerhalb von 1 Stunde fällig oder überfällig" in approaching
    assert "Fällig innerhalb von" in approaching and "P1 kritisch" in approaching
    assert "Due within" not in approaching and "Used of target" not in approaching
    assert "<h1>Pausierte SLA-Zeit</h1>" in paused and "Pro Agent und Grund" in paused
    assert "Per agent" not in paused


def test_the_same_sla_dashboard_stays_english(client, agent, running_clock):
    client.force_login(agent)
    with time_machine.travel(WEDNESDAY_10, tick=False):
        dashboard = page(client, "sla:dashboard")
        approaching = page(client, "sla:approaching", within=60)
    assert "<h1>SLA dashboard</h1>" in dashboard and "Broken down by week" in dashboard
    assert "1 clock due within 1 hour or overdue" in approaching
    assert "SLA-Dashboard" not in dashboard


def test_the_clock_panel_of_the_ticket_page_in_german(client, agentin, running_clock):
    client.force_login(agentin)
    with time_machine.travel(WEDNESDAY_10, tick=False):
        html = page(client, "agent:ticket", running_clock.ticket_id)
    panel = html.split('id="sla-panel"')[1].split("</section>")[0]
    assert "Verbrauchte Geschäftszeit" in panel and "SLA-Verlauf" in panel
    assert "Erste Antwort" in panel and "Läuft" in panel  # the metric and state labels
    assert "45 Min. von 1 Std." in panel and "internes Ziel 45 Min." in panel
    assert "Business time used" not in panel and "SLA history" not in panel


# --- metrics --------------------------------------------------------------------------------

def test_the_team_and_manager_dashboards_in_german(client, agentin, running_clock):
    client.force_login(agentin)
    with time_machine.travel(WEDNESDAY_10, tick=False):
        team = page(client, "metrics:team")
        manager = page(client, "metrics:manager")
    assert "<h1>Dashboard der Teamleitung</h1>" in team and "Nach Priorität" in team
    # The oldest open ticket shows its priority and status labels in German.
    oldest = team.split('id="oldest"')[1].split("</table>")[0]
    assert "P1 kritisch" in oldest and "<td>Zugewiesen</td>" in oldest
    assert "Team lead dashboard" not in team and "P1 critical" not in team
    assert "<h1>Manager-Dashboard</h1>" in manager and "Woche für Woche" in manager
    assert "Support-Gesundheitswert" in manager and "Rückstandswert" in manager
    assert "Queue health by team" not in manager and "Backlog score" not in manager


def test_figures_cached_for_a_german_manager_read_in_english_for_the_next(client, manager,
                                                                         running_clock):
    """Managers see every ticket and so share the cached figures: the labels in them stay
    lazy and follow each reader's language."""
    german = make_user(Role.MANAGER, username="marta", language="de")
    with time_machine.travel(WEDNESDAY_10, tick=False):
        client.force_login(german)
        assert "P1 kritisch" in page(client, "sla:dashboard", by="priority")
        assert "P1 kritisch" in page(client, "metrics:team", team=running_clock.ticket.team_id)
        client.force_login(manager)
        sla = page(client, "sla:dashboard", by="priority")
        team = page(client, "metrics:team", team=running_clock.ticket.team_id)
    assert '<th scope="row">P1 critical</th>' in sla and "P1 kritisch" not in sla
    assert "<td>P1 critical</td><td>Assigned</td>" in team and "Zugewiesen" not in team


# --- workforce ------------------------------------------------------------------------------

def test_the_capacity_page_in_german(client, agentin, l1):
    client.force_login(agentin)
    html = page(client, "workforce_capacity:dashboard", team=l1.pk, week="2026-03-04",
                method="moving_average")
    assert "<h1>Kapazität: " in html and "Prognosemethoden im Vergleich" in html
    assert "Monatliche Personalplanung, März 2026" in html  # the month name in German
    assert "Gleitender Durchschnitt" in html and "Prognosemethode" in html
    assert "Forecast methods compared" not in html and "Moving average" not in html


def test_the_on_call_pages_in_german(client, agentin, agent):
    rotation = Rotation.objects.create(name="Plattform", timezone="Europe/Berlin",
                                       handoff_weekday=0, handoff_time=dt.time(9),
                                       starts_on=dt.date(2026, 3, 2))
    RotationMember.objects.create(rotation=rotation, user=agentin, position=0)
    RotationMember.objects.create(rotation=rotation, user=agent, position=1)
    client.force_login(agentin)
    with time_machine.travel(WEDNESDAY_10, tick=False):
        listing = page(client, "workforce_oncall:rotations")
        detail = page(client, "workforce_oncall:rotation", rotation.pk)
    assert "<h1>Bereitschaft</h1>" in listing
    assert "Übergabe jeden Montag um 09:00 (Europe/Berlin)." in listing
    assert "Erstbereitschaft" in listing and "Handoff every" not in listing
    assert "Mitglieder in Reihenfolge" in detail and "Vertretungen und Tausche" in detail
    assert "Members in order" not in detail and "Monday" not in detail


def test_the_schedule_pages_in_german(client, agentin, l1):
    client.force_login(agentin)
    time_off = page(client, "workforce_schedules:time_off")
    status = page(client, "workforce_schedules:my_status")
    week = page(client, "workforce_schedules:week", l1.slug, week="2026-03-16")
    assert "<h1>Abwesenheit</h1>" in time_off and "Abwesenheit beantragen" in time_off
    assert "Erster freier Tag" in time_off and "Noch keine Anträge." in time_off
    assert "Request time off" not in time_off and "First day off" not in time_off
    assert "<h1>Mein Status</h1>" in status and "Verfügbar" in status
    assert "Current status" not in status and "In training" not in status
    assert f"<h1>Dienstplan von {l1.name}</h1>" in week and "Nächste Woche →" in week
    assert "Mo., 16. März 2026" in week  # the week picker's dates, German-shaped
    assert "Next week" not in week


def test_a_german_time_off_request_is_confirmed_in_german(client, agentin):
    client.force_login(agentin)
    response = client.post(reverse("workforce_schedules:time_off"),
                           {"first": "2026-12-21", "last": "2026-12-23", "reason": "Urlaub"},
                           follow=True)
    html = response.content.decode()
    assert "Abwesenheit beantragt; Ihre Teamleitung entscheidet darüber." in html
    assert "Beantragt" in html  # the request's status label


# --- knowledge base (staff side) ------------------------------------------------------------

def test_the_knowledge_editor_in_german(client, agentin):
    article = kb.create_article(title="VPN einrichten", author=agentin, language="de",
                                summary="Kurz.", body="Text.")
    client.force_login(agentin)
    listing = page(client, "knowledge:manage")
    editor = page(client, "knowledge:edit", article.pk)
    due = page(client, "knowledge:freshness")
    assert "<h1>Wissensdatenbank</h1>" in listing and "Neuer Artikel" in listing
    assert "Entwurf anlegen" in listing and "Anleitung mit Schritten" in listing
    assert "New article" not in listing and "How-to with steps" not in listing
    assert "Entwurf speichern" in editor and "Speichern und zur Prüfung senden" in editor
    assert "Kurze Antwort" in editor and "Prüfintervall (Tage)" in editor
    assert "Save draft" not in editor and "Quick answer" not in editor
    assert "<h1>Zur Prüfung fällige Artikel</h1>" in due and "Nichts ist überfällig." in due


def test_the_deflection_dashboard_in_german(client, lead_de):
    client.force_login(lead_de)
    html = page(client, "knowledge:dashboard")
    search = page(client, "knowledge:reports")
    assert "<h1>Self-Service und Ticketvermeidung</h1>" in html
    assert "Vermeidungsquote" in html and "Ein Besuch im Hilfe-Center" in html
    assert "Deflection rate" not in html and "A help-center visit" not in html
    assert "<h1>Suchberichte (letzte 30 Tage)</h1>" in search
    assert "Top searches" not in search


# --- the ticket labels ----------------------------------------------------------------------

def test_status_priority_and_channel_labels_follow_the_language(customer_a):
    ticket = make_ticket(customer_a, channel=Channel.EMAIL)
    Ticket.objects.filter(pk=ticket.pk).update(status="waiting_on_customer", priority=2)
    ticket.refresh_from_db()
    with translation.override("de"):
        assert ticket.status_label == "Wartet auf Kunden"
        assert ticket.get_priority_display() == "P2 hoch"
        assert ticket.get_channel_display() == "E-Mail"
        assert dict(Ticket._meta.get_field("status").choices)["resolved"] == "Gelöst"
    with translation.override("en"):
        assert ticket.status_label == "Waiting on customer"
        assert ticket.get_priority_display() == "P2 high"
        assert ticket.get_channel_display() == "Email"

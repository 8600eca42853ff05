"""German for what Python says to people (issue 22): flash messages of bulk changes, merges
and incident declarations, a refused transition and a closed ticket's refusal shown on the
page, the ticket timeline's event labels, support tier names, QA sampling reasons and the
admin's action names. The same pages stay English for an English reader."""
from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from helpdesk.models import SupportTier
from helpdesk.roles import Role
from incidents import services as incidents
from incidents.entries import entry_text
from qa.selectors import flag_reasons_text
from tests.factories import make_org, make_ticket, make_user
from tickets import services
from tickets.models import Ticket
from tickets.state_machine import Status
from tickets.timeline import note_text

pytestmark = pytest.mark.django_db

GERMAN, ENGLISH = "de", "en"


@pytest.fixture(params=[GERMAN, ENGLISH])
def language(request) -> str:
    return request.param


@pytest.fixture
def staff(language, l1):
    """An L1 agent who reads the helpdesk in `language`."""
    return make_user(Role.AGENT, teams=(l1,), username=f"agent_{language}", language=language)


@pytest.fixture
def free_customer():
    return make_user(Role.CUSTOMER, org=make_org("Tiny GmbH", tier=SupportTier.FREE))


def in_team(ticket: Ticket, team, **fields) -> Ticket:
    Ticket.objects.filter(pk=ticket.pk).update(team=team, **fields)
    return Ticket.objects.get(pk=ticket.pk)


def flashes(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def says(language: str, german: str, english: str) -> str:
    return german if language == GERMAN else english


def test_bulk_change_flash(client, staff, language, customer_a, l1):
    ids = [in_team(make_ticket(customer_a), l1).pk for _ in range(2)]
    client.force_login(staff)
    response = client.post(reverse("agent:bulk"), {"ids": ids + [999999], "action": "assign",
                                                   "assignee": staff.pk}, follow=True)
    shown = flashes(response)
    assert says(language, "2 Tickets geändert.", "2 tickets changed.") in shown
    assert says(language, "1 ausgewähltes Ticket wurde nicht gefunden.",
                "1 selected ticket could not be found.") in shown


def test_merge_flash(client, staff, language, customer_a, l1):
    original = in_team(make_ticket(customer_a, subject="Login fails"), l1)
    duplicate = in_team(make_ticket(customer_a, subject="Login fails again"), l1)
    client.force_login(staff)
    response = client.post(reverse("agent:merge", args=[duplicate.pk]),
                           {"into": f"#{original.pk}"}, follow=True)
    assert says(language, f"{duplicate.reference} mit {original.reference} zusammengeführt.",
                f"{duplicate.reference} merged into {original.reference}.") in flashes(response)
    refused = client.post(reverse("agent:merge", args=[original.pk]), {"into": original.pk})
    assert says(language, "Ein Ticket kann nicht mit sich selbst zusammengeführt werden.",
                "A ticket cannot be merged into itself.") in flashes(refused)


def test_incident_declaration_flash(client, staff, language):
    client.force_login(staff)
    response = client.post(reverse("incidents:declare"), {
        "title": "SSO down", "users_affected": "all", "impact": "complete"}, follow=True)
    [text] = [t for t in flashes(response) if "SEV1" in t]
    assert text.endswith(says(language, "als SEV1 ausgerufen.", "declared as SEV1."))


def test_a_refused_transition_on_the_ticket_page(client, staff, language, customer_a, l1):
    ticket = in_team(make_ticket(customer_a), l1, status=Status.NEW, assignee=None)
    client.force_login(staff)
    response = client.post(reverse("agent:transition", args=[ticket.pk]),
                           {"to": "waiting_on_customer", "reason": "logs"})
    assert response.status_code == 400
    assert says(language, "Ein Ticket kann nicht von Neu zu Wartet auf Kunden wechseln.",
                "A ticket cannot go from New to Waiting on customer.") \
        in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).status == Status.NEW


def test_a_closed_request_refuses_a_reply_in_the_customers_language(client, language, org_a):
    customer = make_user(Role.CUSTOMER, org=org_a, username=f"kunde_{language}",
                         language=language)
    ticket = make_ticket(customer)
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.CLOSED)
    client.force_login(customer)
    response = client.post(reverse("portal:reply", args=[ticket.pk]), {"body": "Hello?"})
    page = response.content.decode()
    assert says(language, "Dieses Ticket ist geschlossen. Bitte stellen Sie eine neue Anfrage",
                "This ticket is closed. Please open a new request") in page


def test_the_timeline_and_the_support_tier_on_the_ticket_page(client, staff, language,
                                                              free_customer, agent, l1):
    ticket = in_team(make_ticket(free_customer, subject="Export fails"), l1)
    services.add_reply(Ticket.objects.get(pk=ticket.pk), author=agent, body="Checking the logs.",
                       public=False)
    services.update_ticket(Ticket.objects.get(pk=ticket.pk), actor=agent, changes={"priority": 2})
    client.force_login(staff)
    page = client.get(reverse("agent:ticket", args=[ticket.pk])).content.decode()
    if language == GERMAN:
        assert "· Interne Notiz" in page and "— Nachricht " in page
        assert "· Feld geändert <span class=\"muted\">(Priorität)</span>" in page
        assert "Kostenlos" in page
        assert "· Internal note" not in page
    else:
        assert "· Internal note" in page and "— message " in page
        assert "· Field changed <span class=\"muted\">(Priority)</span>" in page
        assert ">Free</span>" in page


def test_stored_english_is_translated_only_when_shown():
    with translation.override(GERMAN):
        assert note_text("3 messages carried over") == "3 Nachrichten übernommen"
        assert note_text("Tried again tomorrow") == "Tried again tomorrow"  # people's words
        assert flag_reasons_text("reopened, low CSAT") == "wieder geöffnet, niedrige Zufriedenheit"
        assert entry_text("Status: Investigating → Identified. The cache is at fault.") == \
            "Status: Wird untersucht → Ursache gefunden. The cache is at fault."
        assert entry_text("Ann: scribe.") == "Ann: Protokoll."
        assert entry_text("Restarted the cache.") == "Restarted the cache."  # people's words
    with translation.override(ENGLISH):
        assert flag_reasons_text("reopened, low CSAT") == "reopened, low CSAT"
        assert entry_text("Ann: scribe.") == "Ann: scribe."


def test_the_war_room_timeline_in_the_readers_language(client, language, l1):
    lead = make_user(Role.TEAM_LEAD, teams=(l1,), lead=True, username=f"lead_{language}",
                     language=language)
    incident = incidents.declare(title="SSO down", users_affected="all", impact="complete",
                                 actor=lead)
    client.force_login(lead)
    live = client.get(reverse("incidents:room_live", args=[incident.pk])).content.decode()
    assert says(language, "hat die Störungsleitung.", "is incident commander.") in live


def test_admin_action_names_in_the_admins_language(client, language, customer_a):
    make_ticket(customer_a)  # the admin shows its actions only over a non-empty list
    admin = make_user(Role.ADMIN, username=f"admin_{language}", language=language)
    client.force_login(admin)
    response = client.get(reverse("admin:tickets_ticket_changelist"))
    assert response.status_code == 200
    assert says(language, "Gelöste Tickets schließen", "Close resolved tickets") \
        in response.content.decode()


def test_tier_filters_and_event_kinds_offer_the_readers_words(client, language, customer_a):
    """The tier choices of the SLA and metrics filters and the API's event labels come from
    the model's own choices, so they follow the reader's language too."""
    manager = make_user(Role.MANAGER, username=f"manager_{language}", language=language)
    client.force_login(manager)
    for url in (reverse("sla:dashboard"), reverse("metrics:manager")):
        page = client.get(url).content.decode()
        assert says(language, '<option value="free">Kostenlos</option>',
                    '<option value="free">Free</option>') in page, url
    ticket = make_ticket(customer_a)
    events = client.get(f"/api/v1/tickets/{ticket.pk}/events/",
                        HTTP_ACCEPT_LANGUAGE=language).json()
    rows = events.get("results", events) if isinstance(events, dict) else events
    assert says(language, "Erstellt", "Created") in [row["kind_label"] for row in rows]


def test_the_queue_filters_and_the_portal_links_in_the_readers_language(client, staff, language,
                                                                         customer_a):
    """Queue names, the filter bar (django-filter's labels and empty choices) and the links
    other apps register on the portal are lazy: shown in each reader's language, not in
    the language of whoever loaded the module first."""
    client.force_login(staff)
    page = client.get(reverse("agent:queue", args=["open"])).content.decode()
    for german, english in [("<h1>Alle offenen</h1>", "<h1>All open</h1>"),
                            ('<label for="filter_q">Suchen</label>',
                             '<label for="filter_q">Search</label>'),
                            ('<label for="filter_tier">Support-Stufe</label>',
                             '<label for="filter_tier">Support tier</label>'),
                            ('<option value="null">Nicht zugewiesen</option>',
                             '<option value="null">Unassigned</option>'),
                            ('<option value="" selected>Beliebig</option>',
                             '<option value="" selected>Any</option>'),
                            ('placeholder="Betreff oder #Nr."', 'placeholder="Subject or #id"'),
                            ('<span class="nav-label">Meine</span>',
                             '<span class="nav-label">Mine</span>')]:
        assert says(language, german, english) in page
    customer = make_user(Role.CUSTOMER, org=customer_a.organization,
                         username=f"customer_{language}", language=language)
    client.force_login(customer)
    portal = client.get(reverse("portal:tickets")).content.decode()
    assert says(language, ">E-Mail-Einstellungen</a>", ">E-mail preferences</a>") in portal

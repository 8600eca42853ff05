"""German on the pages that were still English: the portal's notices for merged and closed
requests, the new-request page, the e-mail preferences and unsubscribe pages, two-factor
sign-in and re-authentication, the privacy page, the agent ticket page's satisfaction,
time and help-center panels, and the 400 page. And a scanner that keeps every template
translated: text a user reads goes through {{ _() }}, {% trans %} or {% translate %}."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import translation
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from helpdesk.roles import Role
from helpdesk.views import bad_request
from knowledge import services as kb
from mailgate import notices
from tests.factories import make_ticket, make_user
from tickets import services, surveys
from tickets.models import Survey, Ticket

pytestmark = pytest.mark.django_db

MONDAY_10 = dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.UTC)


def page(client: Client, path: str, **params) -> str:
    response = client.get(path, params)
    assert response.status_code == 200, (path, response.status_code)
    return response.content.decode()


def code_for(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


# --- customer pages --------------------------------------------------------------------

def test_a_merged_and_closed_request_tells_the_customer_in_german(client, kunde, agent):
    duplicate = make_ticket(kunde, subject="Drucker druckt nicht")
    kept = make_ticket(kunde, subject="Drucker offline")
    services.merge(duplicate, into=kept, actor=agent)
    client.force_login(kunde)
    detail = page(client, reverse("portal:ticket", args=[duplicate.pk]))
    assert "Diese Anfrage wurde mit <a href=" in detail
    assert f"{kept.reference} Drucker offline</a> zusammengeführt" in detail
    assert "Diese Anfrage ist geschlossen" in detail
    assert "Geschlossene Anfragen können keine Antworten mehr erhalten." in detail
    assert "stellen Sie eine neue Anfrage</a>" in detail
    assert "was merged into" not in detail and "Closed requests cannot" not in detail


def test_the_same_notice_stays_english_for_an_english_customer(client, customer_a, agent):
    duplicate = make_ticket(customer_a, subject="Printer")
    services.merge(duplicate, into=make_ticket(customer_a), actor=agent)
    client.force_login(customer_a)
    detail = page(client, reverse("portal:ticket", args=[duplicate.pk]))
    assert "This request was merged into" in detail and "Closed requests cannot" in detail


def test_the_new_request_page_in_german(client, kunde):
    client.force_login(kunde)
    new = page(client, reverse("portal:new_ticket"))
    assert "<h1>Anfrage stellen</h1>" in new and "Anfrage absenden" in new
    assert "markierte Felder sind Pflichtfelder." in new
    assert "Betreff" in new and "Beschreibung" in new and "Abbrechen" in new
    assert "are required" not in new and ">Subject<" not in new


def test_mail_preferences_and_unsubscribing_in_german(client, kunde):
    client.force_login(kunde)
    preferences = page(client, reverse("mailgate:preferences"))
    assert "<h1>E-Mail-Einstellungen</h1>" in preferences
    assert "Wählen Sie, welche E-Mails Sie zu Ihren Anfragen erhalten." in preferences
    assert "Einstellungen speichern" in preferences and "Choose which e-mails" not in preferences

    # The link from an e-mail, without signing in: the page speaks her language anyway.
    url = notices.unsubscribe_url(kunde.pk, notices.REMINDER)
    path = url.removeprefix("http://127.0.0.1:8000").removeprefix("http://testserver")
    anonymous = Client()
    ask = page(anonymous, path)
    assert "Keine E-Mails mit" in ask and ">Abbestellen</button>" in ask
    done = anonymous.post(path).content.decode()
    assert "<h1>Sie haben abbestellt</h1>" in done
    assert "Antworten auf Ihre Anfragen erreichen Sie weiterhin." in done
    assert "E-Mail-Einstellungen</a>" in done and "no longer receive" not in done


# --- sign-in -----------------------------------------------------------------------------

@pytest.fixture
def manager_de(db):
    return make_user(Role.MANAGER, username="marta", language="de",
                     time_zone="Europe/Berlin")


def test_two_factor_enrolment_and_recovery_codes_in_german(client, manager_de):
    client.force_login(manager_de)
    setup = page(client, reverse("two_factor_setup"))
    assert "<h1 id=\"tfa-title\">Zwei-Faktor-Anmeldung einrichten</h1>" in setup
    assert "Ihre Rolle verlangt einen zweiten Faktor." in setup and "Schlüssel:" in setup
    assert "Zwei-Faktor-Anmeldung einschalten" in setup
    assert "Der sechsstellige Code aus Ihrer Authenticator-App" in setup  # the help text
    assert "Set up two-factor" not in setup and "Your role needs" not in setup

    device = TOTPDevice.objects.get(user=manager_de, confirmed=False)
    codes = client.post(reverse("two_factor_setup"), {"code": code_for(device)})
    html = codes.content.decode()
    assert "<h1 id=\"codes-title\">Ihre Wiederherstellungscodes</h1>" in html
    assert "Bewahren Sie die Codes sicher auf" in html and ">Weiter</a>" in html


def test_the_second_step_of_signing_in_in_german(client, manager_de):
    TOTPDevice.objects.create(user=manager_de, name="authenticator", confirmed=True)
    client.force_login(manager_de)  # signed in with a password, not yet with the code
    verify = page(client, reverse("two_factor_verify"))
    assert "<title>Zwei-Faktor-Anmeldung · Helpdesk</title>" in verify
    assert "<h1 id=\"verify-title\">Code eingeben</h1>" in verify and ">Prüfen</button>" in verify
    assert "Enter your code" not in verify


def test_reauthentication_in_german(client, manager_de):
    client.force_login(manager_de)
    reauth = page(client, reverse("reauthenticate"))
    assert "Bestätigen Sie, dass Sie es sind" in reauth
    assert "Geben Sie Ihr Passwort oder einen aktuellen Zwei-Faktor-Code ein" in reauth
    assert "Passwort" in reauth and "Oder ein Zwei-Faktor-Code" in reauth
    assert ">Bestätigen</button>" in reauth and "Confirm it is you" not in reauth


# --- staff pages ---------------------------------------------------------------------------

def test_the_privacy_page_in_german(client, db):
    admin = make_user(Role.ADMIN, username="paula", language="de")
    client.force_login(admin)
    privacy = page(client, reverse("privacy:index"))
    assert "<h1 id=\"privacy-title\">Datenschutzanfragen</h1>" in privacy
    assert "Eine Löschung muss eine zweite Administratorin" in privacy
    assert "Export erstellen" in privacy and "Löschung beantragen" in privacy
    assert "Person (E-Mail-Adresse oder Benutzername)" in privacy
    assert "Noch keine Anfragen." in privacy or "Beantragt von" in privacy
    assert "Build export" not in privacy and "Privacy requests" not in privacy


@pytest.fixture
def lead_de(l1):
    return make_user(Role.TEAM_LEAD, teams=(l1,), lead=True, username="lotte", language="de",
                     time_zone="Europe/Berlin")


@pytest.fixture
def rated_low(customer_a, agentin, lead_de, l1) -> Ticket:
    """A resolved ticket of the German agent's team whose customer rated it 2 of 5."""
    with time_machine.travel(MONDAY_10, tick=False):
        ticket = make_ticket(customer_a, subject="Rechnung fehlt")
        Ticket.objects.filter(pk=ticket.pk).update(team=l1, assignee=agentin)
        survey = Survey.objects.create(
            ticket=ticket, resolution=0, requester=customer_a, team=l1, status=Survey.Status.SENT,
            scheduled_for=MONDAY_10, sent_at=MONDAY_10,
            expires_at=MONDAY_10 + dt.timedelta(days=14))
        surveys.record_feedback(survey, rating=2, comment="Zu langsam.")
    return ticket


def test_the_ticket_page_panels_in_german(client, agentin, rated_low):
    kb.publish(kb.create_article(title="Rechnung herunterladen", author=None, language="de",
                                 summary="Unter Konto → Rechnungen.", body="Text."), actor=None)
    client.force_login(agentin)
    with time_machine.travel(MONDAY_10 + dt.timedelta(hours=1), tick=False):
        ticket_page = page(client, reverse("agent:ticket", args=[rated_low.pk]))
    # Satisfaction: the answer, its low-score badge and the open follow-up.
    assert "<h2 id=\"satisfaction-title\">Zufriedenheit</h2>" in ticket_page
    assert "<dt>Bewertung</dt>" in ticket_page and "niedrige Bewertung" in ticket_page
    assert "nicht angegeben" in ticket_page and "Nachfassaktion offen, fällig" in ticket_page
    assert "Lösung 1:" in ticket_page
    assert "low score" not in ticket_page and "follow-up open" not in ticket_page
    # Time tracking.
    assert "<h2 id=\"time-title\">Zeit</h2>" in ticket_page
    assert "<dt>Bearbeitungszeit</dt>" in ticket_page and "0 Minuten" in ticket_page
    assert ">Zeitmessung starten</button>" in ticket_page and "Start timer" not in ticket_page
    # Help-center panel, its suggestions and the flag form.
    assert "Hilfe-Center-Artikel" in ticket_page and "Artikel suchen" in ticket_page
    assert "Vorschläge anzeigen" in ticket_page and "Search articles" not in ticket_page
    results = client.get(reverse("knowledge:panel_search", args=[rated_low.pk]),
                         HTTP_HX_REQUEST="true").content.decode()
    assert "Rechnung herunterladen" in results
    assert "Link in die Antwort einfügen" in results and "<summary>Melden</summary>" in results
    assert "Dieser Artikel ist" in results and "veraltet" in results
    assert "Insert link" not in results and "Flag article" not in results


def test_a_running_timer_in_german(client, agentin, rated_low):
    client.force_login(agentin)
    with time_machine.travel(MONDAY_10 + dt.timedelta(hours=2), tick=False):
        response = client.post(reverse("agent:timer_start", args=[rated_low.pk]),
                               HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "Ihre Zeitmessung läuft seit <time datetime=" in html
    assert ">13:00</time>." in html  # 12:00 UTC in Berlin
    assert ">Zeitmessung beenden</button>" in html and "Your timer" not in html


def test_survey_follow_ups_in_german(client, lead_de, rated_low):
    client.force_login(lead_de)
    with time_machine.travel(MONDAY_10 + dt.timedelta(hours=1), tick=False):
        follow_ups = page(client, reverse("surveys:follow_ups"))
    assert "<h1>Nachfassaktionen zu Umfragen</h1>" in follow_ups
    assert "Kontaktieren Sie den Kunden innerhalb von 24 Stunden" in follow_ups
    assert "Zu langsam." in follow_ups and ">Als erledigt markieren</button>" in follow_ups
    assert f"Ergebnis für Ticket #{rated_low.pk}" in follow_ups
    assert "Mark handled" not in follow_ups


def test_the_agent_forms_label_their_fields_in_german(client, agentin, customer_a):
    for subject in ("Rechnung fehlt", "Login geht nicht"):
        make_ticket(customer_a, subject=subject)  # anke is L1's only agent: both are hers
    client.force_login(agentin)
    queue = page(client, reverse("agent:queue", args=["mine"]))
    assert "· 2 Tickets</span>" in queue  # the pager counts in German, not "2 tickets"
    new = page(client, reverse("agent:new_ticket"))
    assert "<h1>Neues Ticket im Auftrag eines Kunden</h1>" in new
    assert "Anfragende Person (Benutzername oder E-Mail-Adresse)" in new
    assert "Von den Regeln bestimmen lassen" in new and ">Ticket anlegen</button>" in new
    assert "Requester (username" not in new and "Let the rules decide" not in new


def test_the_400_page_in_german():
    request = RequestFactory().get("/")
    with translation.override("de"):
        html = bad_request(request, SuspiciousOperation()).content.decode()
    assert "<h1>Anfrage abgelehnt</h1>" in html
    assert "Mit der Zurück-Taste Ihres Browsers" in html and "Back button" not in html
    with translation.override("en"):
        assert "Back button" in bad_request(request, SuspiciousOperation()).content.decode()


def test_the_admin_holiday_import_page_in_german(client, db):
    from sla.models import Calendar
    admin = make_user(Role.ADMIN, username="adele", language="de")
    calendar = Calendar.objects.create(name="Berlin", timezone="Europe/Berlin", country="DE")
    client.force_login(admin)
    change = page(client, reverse("admin:sla_calendar_change", args=[calendar.pk]))
    assert "Gesetzliche Feiertage importieren</a>" in change
    holidays = page(client, reverse("admin:sla_calendar_import_holidays", args=[calendar.pk]))
    assert "Die gesetzlichen Feiertage stammen aus dem Paket" in holidays
    assert "Land DE" in holidays and 'value="Feiertage importieren"' in holidays


# --- every template translated ----------------------------------------------------------

TEMPLATES = Path(settings.BASE_DIR) / "templates"
# The English shipped defaults of the customer and staff notices have their own German
# copies (templates/notices/de/), read per recipient: they are translated by copy.
PER_LANGUAGE_COPIES = TEMPLATES / "notices"
# Not words: key caps, abbreviations German uses as they are, an example ticket key.
NOT_WORDS = {"Ctrl", "Enter", "Esc", "CSV", "SEV", "URL", "NPS", "ENG"}

TRANSLATED_OR_CODE = [
    r"{%-?\s*trans\b.*?{%-?\s*endtrans\s*-?%}",  # Jinja2
    r"{%\s*blocktrans(?:late)?\b.*?{%\s*endblocktrans(?:late)?\s*%}",  # Django
    r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", r"{#.*?#}",
    r"<script\b.*?</script>", r"<style\b.*?</style>",
    # A page's body class names CSS, not text.
    r"{%-?\s*block body_class\s*-?%}.*?{%-?\s*endblock",
    r"{{.*?}}", r"{%.*?%}",
]
ATTRIBUTES = r'\b(?:title|placeholder|aria-label|alt)="([^"]*)"'
BUTTON_VALUE = r'<input\b[^>]*\btype="(?:submit|button|reset)"[^>]*\bvalue="([^"]*)"'
UNTRANSLATED_DEFAULT = r'\|\s*default\(\s*"[^"]*[A-Za-z]{3}'


def english_words(source: str) -> list[str]:
    """Words a reader sees that no translation call covers: text between tags, text in
    title/placeholder/aria-label/alt and on input buttons, and `|default("text")`."""
    found = re.findall(UNTRANSLATED_DEFAULT, source)
    for pattern in TRANSLATED_OR_CODE:
        source = re.sub(pattern, " ", source, flags=re.S)
    shown = re.findall(ATTRIBUTES, source) + re.findall(BUTTON_VALUE, source)
    text = re.sub(r"<[^>]*>", " ", source, flags=re.S)
    text = re.sub(r"&#?\w+;", " ", text)
    for chunk in [text, *shown]:
        found += [w for w in re.findall(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]", chunk)
                  if w not in NOT_WORDS]
    return found


def test_the_scanner_finds_english_and_passes_translated_text():
    assert english_words('<p>Save <b>now</b></p>') == ["Save", "now"]
    assert english_words('<input type="submit" value="Import holidays">') == [
        "Import", "holidays"]
    assert english_words('<a title="Open it" href="{{ url }}">{{ _("Open") }}</a>') == [
        "Open", "it"]
    assert english_words('{{ owner|default("unassigned", true) }}') != []
    assert english_words('{% trans %}Hello <a href="x">there</a>{% endtrans %}') == []
    assert english_words('{% blocktranslate %}Hi {{ n }}{% endblocktranslate %}') == []
    assert english_words('<input type="hidden" name="action" value="assign">') == []
    assert english_words('{% block body_class %}agent{% endblock %}<kbd>Ctrl</kbd>') == []


def test_no_template_shows_untranslated_english():
    untranslated = {}
    for path in sorted(TEMPLATES.rglob("*")):
        if path.suffix not in (".html", ".txt") or PER_LANGUAGE_COPIES in path.parents:
            continue
        words = english_words(path.read_text(encoding="utf-8"))
        if words:
            untranslated[str(path.relative_to(TEMPLATES))] = words[:8]
    assert not untranslated, (
        "English outside {{ _() }} / {% trans %} / {% translate %}: " + repr(untranslated))


def test_every_shipped_notice_has_its_german_copy():
    """The notices are translated by copy (helpdesk.notice_templates): a new English
    default without templates/notices/de/ would reach German readers in English."""
    english = {p.name for p in PER_LANGUAGE_COPIES.iterdir() if p.is_file()}
    german = {p.name for p in (PER_LANGUAGE_COPIES / "de").iterdir() if p.is_file()}
    assert english and english - german == set()

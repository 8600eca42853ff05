"""What a model's `__str__` shows in the admin (change-list checkboxes, breadcrumbs, delete
confirmations, foreign-key dropdowns, history) is in the reader's language: German for a
German admin, English for an English one, with the choice labels rather than stored codes
and "System" rather than "None" for a note without author. A source scan keeps English
words out of every `__str__` that does not go through gettext."""
from __future__ import annotations

import ast
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import translation

from casework.models import CaseworkRollupState, EngineeringLink, Investigation, StepCheck
from helpdesk.models import (
    AuditEntry,
    Membership,
    NoticeTemplate,
    NotificationPreference,
    Team,
    User,
)
from helpdesk.roles import Role
from importers.models import ImportRun, Source
from incidents.models import EscalationStep as IncidentStep
from incidents.models import Incident, Severity
from incidents.models import Review as IncidentReview
from knowledge.models import Article, ArticleEvent, ArticleVote
from mailgate.models import BounceMark, CustomerMailPreference, WaitingTicket
from privacy.models import PrivacyRequest, RetentionPolicy, RetentionRun
from qa.models import CalibrationDimensionScore, CoachingSession, Dispute, Review
from reporting.models import MetricsRollupState, MetricsStaleHour
from sla.models import Clock, ClockDay, ClockLevelFire, ClockRollupState, Policy
from tests.factories import make_org, make_ticket, make_user
from tickets import services
from tickets.models import Escalation, FollowUp, Message, PendingEvents, Survey, TimeEntry
from webhooks.models import Attempt
from workforce.models import EscalationStep, Hire, OnCallOverride, Page, Rotation, TeamCapacity

ROOT = Path(__file__).resolve().parents[2]
AT = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


def both(obj: object) -> tuple[str, str]:
    with translation.override("de"):
        german = str(obj)
    with translation.override("en"):
        english = str(obj)
    return german, english


# --- (a) each app's __str__ in German and English -------------------------------------------
# Unsaved rows where the text needs no database: __str__ reads only the row and its relations.

def _people() -> dict[str, object]:
    team = Team(name="L2 Technik", slug="l2x")
    return {"team": team, "agent": User(username="anke", first_name="Anke"),
            "org": make_org("Acme")}


CASES: dict[str, tuple[Callable[[dict], object], str, str]] = {
    # tickets
    "escalation to engineering": (
        lambda p: Escalation(ticket_id=7),
        "Eskalation von #7 an die Entwicklung", "Escalation of #7 to engineering"),
    "escalation to a team": (
        lambda p: Escalation(ticket_id=7, to_team=p["team"]),
        "Eskalation von #7 an L2 Technik", "Escalation of #7 to L2 Technik"),
    "survey (status label, not code)": (
        lambda p: Survey(ticket_id=7, status="sent"),
        "Umfrage zu #7 (Gesendet)", "Survey of #7 (Sent)"),
    "survey follow-up": (
        lambda p: FollowUp(ticket_id=7), "Nachfassen zu #7", "Follow-up of #7"),
    "running time entry": (
        lambda p: TimeEntry(ticket_id=7, agent=p["agent"]),
        "Anke zu #7: läuft", "Anke on #7: running"),
    "pending events (plural)": (
        lambda p: PendingEvents(events=[{}, {}], created_at=AT),
        "2 Ereignisse vom 2026-12-07 09:30:00", "2 events of 2026-12-07 09:30:00"),
    # helpdesk
    "notification preferences": (
        lambda p: NotificationPreference(user=p["agent"]),
        "Benachrichtigungseinstellungen von Anke", "Notification preferences of Anke"),
    "notice wording of all teams": (
        lambda p: NoticeTemplate(key="customer.reply"),
        "customer.reply (alle Teams)", "customer.reply (all teams)"),
    "membership": (
        lambda p: Membership(user=p["agent"], team=p["team"]),
        "Anke in L2 Technik", "Anke in L2 Technik"),
    "audit entry (action label)": (
        lambda p: AuditEntry(action="change", model="tickets.ticket", object_id="7",
                             actor_label="system"),
        "Geändert tickets.ticket #7 durch system", "Changed tickets.ticket #7 by system"),
    # casework
    "investigation": (
        lambda p: Investigation(ticket_id=7), "Untersuchung zu #7", "Investigation of #7"),
    "playbook step check": (
        lambda p: StepCheck(step_id=3, run_id=4), "Schritt 3 von Durchlauf 4",
        "Step 3 of run 4"),
    "engineering link without status": (
        lambda p: EngineeringLink(key="ENG-12"), "ENG-12 (kein Status)", "ENG-12 (no status)"),
    "casework rollup": (
        lambda p: CaseworkRollupState(covered_from=AT, covered_to=AT),
        "Fallbearbeitungs-Verdichtung 2026-12-07 09:30:00+00:00 – 2026-12-07 09:30:00+00:00",
        "Casework rollup 2026-12-07 09:30:00+00:00 – 2026-12-07 09:30:00+00:00"),
    # qa
    "QA review": (
        lambda p: Review(ticket_id=7, agent=p["agent"]),
        "QA-Bewertung zu #7 (Anke)", "QA review of #7 (Anke)"),
    "dispute": (
        lambda p: Dispute(review=Review(ticket_id=7, agent=p["agent"])),
        "Einspruch gegen QA-Bewertung zu #7 (Anke)", "Dispute of QA review of #7 (Anke)"),
    "coaching": (
        lambda p: CoachingSession(agent=p["agent"], held_on=date(2026, 12, 7)),
        "Coaching von Anke am 2026-12-07", "Coaching of Anke on 2026-12-07"),
    "calibration score without level": (
        lambda p: CalibrationDimensionScore(dimension_id=5), "5: n. a.", "5: N/A"),
    # workforce
    "page": (
        lambda p: Page(user=p["agent"], created_at=AT),
        "Alarmierung an Anke um 2026-12-07 09:30", "Page to Anke at 2026-12-07 09:30"),
    "capacity": (
        lambda p: TeamCapacity(team=p["team"]),
        "Kapazität von L2 Technik", "Capacity of L2 Technik"),
    "hire (German reorders the placeholders)": (
        lambda p: Hire(agent=p["agent"], team=p["team"], started_on=date(2026, 12, 1)),
        "Anke ist am 2026-12-01 L2 Technik beigetreten", "Anke joined L2 Technik on 2026-12-01"),
    "on-call override (role label)": (
        lambda p: OnCallOverride(user=p["agent"], role="primary",
                                 rotation=Rotation(name="Nacht")),
        "Anke übernimmt Erstbereitschaft von Nacht", "Anke covers Primary of Nacht"),
    "escalation step": (
        lambda p: EscalationStep(target="managers", after_minutes=30),
        "Manager nach 30 Min.", "Managers after 30 min"),
    # knowledge
    "article event by the system": (
        lambda p: ArticleEvent(article=Article(title="VPN einrichten"), kind="published"),
        "VPN einrichten Veröffentlicht durch System", "VPN einrichten Published by System"),
    "unhelpful vote": (
        lambda p: ArticleVote(article_id=12, helpful=False),
        "nicht hilfreich: Artikel 12", "not helpful: 12"),
    # privacy
    "retention for everyone": (
        lambda p: RetentionPolicy(), "Aufbewahrung für alle", "Retention for everyone"),
    "retention for an organization": (
        lambda p: RetentionPolicy(organization=p["org"]),
        "Aufbewahrung für Acme", "Retention for Acme"),
    "retention dry run": (
        lambda p: RetentionRun(dry_run=True, started_at=AT),
        "Aufbewahrungs-Probelauf am 2026-12-07", "Retention dry run at 2026-12-07"),
    "privacy request (kind label)": (
        lambda p: PrivacyRequest(kind="erasure", subject_label="Max Muster"),
        "Löschung für Max Muster", "Erasure of Max Muster"),
    # mailgate
    "held bounce mark": (
        lambda p: BounceMark(address="x@acme.example"),
        "x@acme.example (unzustellbar, zurückgehalten)", "x@acme.example (bounced, held)"),
    "cleared bounce mark": (
        lambda p: BounceMark(address="x@acme.example", status="5.1.1", cleared_at=AT),
        "x@acme.example (5.1.1, aufgehoben)", "x@acme.example (5.1.1, cleared)"),
    "customer e-mail preferences": (
        lambda p: CustomerMailPreference(user=p["agent"]),
        "E-Mail-Einstellungen von Anke", "e-mail preferences of Anke"),
    "waiting ticket": (
        lambda p: WaitingTicket(ticket_id=7, waiting_since=AT),
        "#7 wartet seit 2026-12-07 09:30", "#7 waiting since 2026-12-07 09:30"),
    # reporting
    "metrics rollup": (
        lambda p: MetricsRollupState(covered_from=AT, covered_to=AT),
        "Kennzahlen-Verdichtung 2026-12-07 09:30:00+00:00 – 2026-12-07 09:30:00+00:00",
        "Metrics rollup 2026-12-07 09:30:00+00:00 – 2026-12-07 09:30:00+00:00"),
    "stale hour": (
        lambda p: MetricsStaleHour(hour=AT.replace(minute=0)),
        "veraltet: 2026-12-07 09:00", "stale 2026-12-07 09:00"),
    # incidents
    "incident review": (
        lambda p: IncidentReview(incident=Incident(pk=42)),
        "Nachbetrachtung zu INC-42", "Review of INC-42"),
    "incident escalation step": (
        lambda p: IncidentStep(severity=Severity(level=1, name="Kritisch"), after_minutes=15,
                               label="Manager"),
        "SEV1 +15 Min.: Manager", "SEV1 +15 min: Manager"),
    # sla
    "clock day (plural)": (
        lambda p: ClockDay(day=date(2026, 12, 7), metric="first_response", clocks=3),
        "2026-12-07 Erste Antwort: 3 Uhren", "2026-12-07 First response: 3 clocks"),
    "clock level fire": (
        lambda p: ClockLevelFire(clock=Clock(ticket_id=7, metric="resolution",
                                             state="running"), percent=75),
        "#7 Lösung (Läuft) bei 75 %", "#7 Resolution (Running) at 75%"),
    "SLA rollup": (
        lambda p: ClockRollupState(covered_from=AT, covered_to=AT),
        "SLA-Verdichtung 2026-12-07 09:30:00+00:00 – 2026-12-07 09:30:00+00:00",
        "SLA rollup 2026-12-07 09:30:00+00:00 – 2026-12-07 09:30:00+00:00"),
    # webhooks, importers
    "webhook attempt": (
        lambda p: Attempt(number=2, delivery_id=9),
        "Versuch 2 der Zustellung 9", "attempt 2 of 9"),
    "import run (status label)": (
        lambda p: ImportRun(source=Source(name="Zendesk"), started_at=AT,
                            status="finished"),
        "Zendesk 2026-12-07 09:30 (Abgeschlossen)", "Zendesk 2026-12-07 09:30 (Finished)"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(CASES))
def test_str_in_german_and_english(case):
    build, german, english = CASES[case]
    assert both(build(_people())) == (german, english)


@pytest.mark.django_db
def test_messages_name_the_author_the_system_or_an_unknown_sender(customer_a, agent):
    ticket = make_ticket(customer_a, subject="Export fails")
    reply = services.add_reply(ticket, author=customer_a, body="Still failing.")
    note = services.add_reply(ticket, author=agent, body="Checked the logs.", public=False)
    system = services.add_system_note(ticket, body="Delivery report: bounced.")
    n = ticket.pk
    assert both(reply) == (f"Antwort zu #{n} von Alice", f"reply on #{n} by Alice")
    assert both(note) == (f"Notiz zu #{n} von Agnes", f"note on #{n} by Agnes")
    assert both(system) == (f"Notiz zu #{n} von System", f"note on #{n} by System")
    # A public message whose sender was deleted (author set to NULL).
    orphan = Message(ticket_id=n, is_public=True)
    assert both(orphan) == (f"Antwort zu #{n} von Unbekannter Absender",
                            f"reply on #{n} by Unknown sender")



@pytest.mark.django_db
def test_the_audit_log_stores_the_english_text_whatever_the_language(org_a):
    """The audit trail keeps one language: a German admin's change is named in English
    there (the admin shows it translated through __str__, not the stored copy)."""
    with translation.override("de"):
        everyone = RetentionPolicy.objects.create(closed_ticket_days=365)
        acme = RetentionPolicy.objects.create(organization=org_a, closed_ticket_days=30)
        assert str(everyone) == "Aufbewahrung für alle"
    stored = dict(AuditEntry.objects.filter(model="privacy.RetentionPolicy", action="create")
                  .values_list("object_id", "object_repr"))
    assert stored == {str(everyone.pk): "Retention for everyone",
                      str(acme.pk): "Retention for Acme"}

# --- (b) the change list of messages, as a German admin sees it ------------------------------

@pytest.mark.django_db
def test_the_german_message_change_list_names_the_system_not_none(client, customer_a, agent):
    ticket = make_ticket(customer_a, subject="Export fails")
    services.add_reply(ticket, author=customer_a, body="Still failing.")
    services.add_system_note(ticket, body="Delivery report: bounced.")
    services.add_reply(ticket, author=agent, body="Checked the logs.", public=False)
    admin_de = make_user(Role.ADMIN, username="adele", language="de")
    client.force_login(admin_de)

    response = client.get(reverse("admin:tickets_message_changelist"))
    assert response.status_code == 200
    html = response.content.decode()
    n = ticket.pk
    for text in (f"Notiz zu #{n} von System", f"Notiz zu #{n} von Agnes",
                 f"Antwort zu #{n} von Alice"):
        assert f'aria-label="Dieses Objekt für eine Aktion auswählen - {text}"' in html, text
    assert "by None" not in html and "von None" not in html
    assert not re.search(r"(note|reply) on #\d+ by", html)


# --- (c) no English words in a __str__ outside gettext --------------------------------------

GETTEXT = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy", "pgettext",
           "pgettext_lazy", "npgettext", "npgettext_lazy"}
SKIP_DIRS = {".venv", "tests", "migrations", "node_modules", "static", "templates", "locale"}
# A word of three or more letters; all-capital codes (SEV, SLA, INC) are not English text.
WORD = re.compile(r"[A-Za-z]{3,}")


def _called_name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def english_in_str(function: ast.FunctionDef) -> list[str]:
    """The English words in string literals of a `__str__` that no gettext call wraps; dict
    keys (placeholder names), subscripts and f-string format specs are data, not text."""
    exempt: set[int] = set()
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        exempt.add(id(body[0].value))  # the docstring
    for node in ast.walk(function):
        wrapped: list[ast.AST] = []
        if isinstance(node, ast.Call) and _called_name(node) in GETTEXT:
            wrapped = [node]
        elif isinstance(node, ast.Dict):
            wrapped = [k for k in node.keys if k is not None]
        elif isinstance(node, ast.Subscript):
            wrapped = [node.slice]
        elif isinstance(node, ast.FormattedValue) and node.format_spec is not None:
            wrapped = [node.format_spec]
        for top in wrapped:
            exempt.update(id(n) for n in ast.walk(top))
    found = []
    for node in ast.walk(function):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and id(node) not in exempt):
            found += [w for w in WORD.findall(node.value) if not w.isupper()]
    return found


def project_str_methods() -> list[tuple[str, ast.FunctionDef]]:
    methods = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if SKIP_DIRS & set(relative.parts) or relative.parts[0].startswith("."):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for cls in ast.walk(tree):
            if isinstance(cls, ast.ClassDef):
                methods += [(f"{relative}:{f.lineno} {cls.name}", f) for f in cls.body
                            if isinstance(f, ast.FunctionDef) and f.name == "__str__"]
    return methods


def test_no_str_returns_english_outside_gettext():
    methods = project_str_methods()
    assert len(methods) > 100  # every app's models were found, not an empty walk
    offenders = {where: words for where, f in methods if (words := english_in_str(f))}
    assert offenders == {}


def _parse(source: str) -> ast.FunctionDef:
    return ast.parse(source).body[0]


@pytest.mark.parametrize("source, words", [
    ('def __str__(self):\n    return f"Capacity of {self.team}"', ["Capacity"]),
    ('def __str__(self):\n    kind = "reply" if self.is_public else "note"\n'
     '    return f"{kind} #{self.pk}"', ["reply", "note"]),
    ('def __str__(self):\n    return f"{self.key} ({self.team or \'all teams\'})"',
     ["all", "teams"]),
    ('def __str__(self):\n    return "Retention for everyone"', ["Retention", "for", "everyone"]),
    ('def __str__(self):\n    return gettext("Capacity of %(team)s") % {"team": self.team}',
     []),
    ('def __str__(self):\n    team = self.team or _("all teams")\n'
     '    return f"{self.key} ({team})"', []),
    ('def __str__(self):\n    return f"#{self.pk} {self.hour:%Y-%m-%d %H:00} SEV{self.level}"',
     []),
    ('def __str__(self):\n    return self.data["name"]', []),
])
def test_the_scan_tells_english_from_data(source, words):
    assert english_in_str(_parse(source)) == words


# --- admin texts that are not __str__ ---------------------------------------------------------

@pytest.mark.django_db
def test_the_german_admin_shows_policy_conditions_and_the_notice_preview_in_german(
        client, customer_a):
    Policy.objects.create(name="Enterprise", order=1, org_tiers=["enterprise"], priorities=[1])
    Policy.objects.create(name="Fallback", order=2)
    ticket = make_ticket(customer_a, subject="Export fails")
    client.force_login(make_user(Role.ADMIN, username="adele", language="de"))

    policies = client.get(reverse("admin:sla_policy_changelist")).content.decode()
    assert "Support-Stufen enterprise; Prioritäten P1" in policies
    assert "jedes Ticket (Teams und Tags nicht berücksichtigt)" in policies
    assert "every ticket" not in policies and "priorities P1" not in policies

    preview = client.get(reverse("admin:mailgate_notice_preview"),
                         {"key": "customer.incident_update", "ticket": ticket.pk})
    html = preview.content.decode()
    assert "<title>Kundenbenachrichtigung in der Vorschau ansehen" in html
    assert "Service-Update: Beispiel-Störung" in html
    assert "Beispiel-Update: Unsere Entwickler sind dran." in html
    assert "Example incident" not in html and "engineers are on it" not in html

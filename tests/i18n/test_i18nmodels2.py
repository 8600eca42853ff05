"""German in the Django admin of the knowledge base, QA, workforce, incidents and casework:
app names, model names, column headers, field labels, help texts and choices follow the
admin's language; an English admin keeps Django's English labels. Every model of these
apps (and of reporting) declares its labels through the translation machinery."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from django.apps import apps
from django.conf import settings
from django.db import migrations
from django.db.migrations.loader import MigrationLoader
from django.urls import reverse
from django.utils.functional import Promise

from casework.models import Investigation
from helpdesk.roles import Role
from incidents.models import Incident, Severity
from knowledge.models import Article
from qa.models import Scorecard
from tests.factories import make_ticket, make_user
from workforce.models import ScheduledShift, ShiftTemplate

pytestmark = pytest.mark.django_db

APPS = ("knowledge", "reporting", "qa", "workforce", "incidents", "casework")
NOON = dt.datetime(2026, 3, 18, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def admin_de():
    return make_user(Role.ADMIN, username="adele", language="de", time_zone="Europe/Berlin")


@pytest.fixture
def admin_en():
    return make_user(Role.ADMIN, username="adam", language="en")


@pytest.fixture
def rows(agent, l1, customer_a):
    """One row of each admin page under test."""
    template = ShiftTemplate.objects.create(name="Core", start=dt.time(9), end=dt.time(17))
    ticket = make_ticket(customer_a, subject="Export fails")
    return {
        "scorecard": Scorecard.objects.create(name="Phone quality"),
        "shift": ScheduledShift.objects.create(
            agent=agent, team=l1, template=template, starts_at=NOON,
            ends_at=NOON + dt.timedelta(hours=8)),
        "template": template,
        "incident": Incident.objects.create(
            title="Login outage", users_affected="multiple", impact="complete",
            suggested_level=2, severity=Severity.objects.get(level=2), declared_at=NOON),
        "investigation": Investigation.objects.create(ticket=ticket, created_at=NOON,
                                                      updated_at=NOON),
        "article": Article.objects.create(slug="reset-password", title="Reset your password",
                                          created_at=NOON, updated_at=NOON),
    }


def admin_page(client, obj, view: str) -> str:
    opts = obj._meta
    args = [] if view == "changelist" else [obj.pk]
    response = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}",
                                  args=args))
    assert response.status_code == 200, (opts.label, view, response.status_code)
    return response.content.decode()


def header(label: str) -> str:
    """A sortable column header of a changelist, as Django renders it."""
    return f">{label}</a></div>"


def inline_heading(label: str, html: str) -> bool:
    """The heading of an inline (the related model's plural name) is on the page."""
    return re.search(rf'class="inline-heading">\s*{re.escape(label)}\s*</h2>', html) is not None


def field_label(label: str) -> str:
    return f">{label}:</label>"


def test_a_qa_scorecard_in_german(client, admin_de, rows):
    client.force_login(admin_de)
    changelist = admin_page(client, rows["scorecard"], "changelist")
    for column in ("Name", "Version", "Aktuell", "Erstellt am"):
        assert header(column) in changelist, column
    assert "Qualitätssicherung" in changelist  # the app, in the breadcrumbs
    assert "Bewertungsbögen" in changelist and "Scorecards" not in changelist
    form = admin_page(client, rows["scorecard"], "change")
    assert field_label("Beschreibung") in form and field_label("Vorgängerversion") in form
    assert "Neue Bewertungen und Stichproben verwenden die aktuelle Version eines Namens." in form
    for inline in ("Kriterien", "Bewertungsstufen", "K.-o.-Kriterien", "Checklistenpunkte"):
        assert inline_heading(inline, form), inline
    assert "Is current" not in form and "Description" not in form


def test_a_workforce_shift_in_german(client, admin_de, rows):
    client.force_login(admin_de)
    changelist = admin_page(client, rows["shift"], "changelist")
    for column in ("Agent", "Team", "Vorlage", "Beginnt am", "Endet am", "Pausenminuten"):
        assert header(column) in changelist, column
    assert "Personalplanung" in changelist and "Geplante Schichten" in changelist
    form = admin_page(client, rows["shift"], "change")
    assert field_label("Beginnt am") in form and field_label("Notiz") in form
    assert "Starts at" not in form and "Break minutes" not in form
    template = admin_page(client, rows["template"], "change")
    assert "Darf bei einer Nachtschicht vor dem Beginn liegen." in template
    assert field_label("Zweiter Beginn") in template
    assert "Nur bei geteilten Schichten." in template


def test_an_incident_in_german(client, admin_de, rows):
    client.force_login(admin_de)
    changelist = admin_page(client, rows["incident"], "changelist")
    for column in ("Titel", "Schweregrad", "Status", "Ausgerufen am", "Gelöst am"):
        assert header(column) in changelist, column
    assert "Störungen" in changelist and "Declared at" not in changelist
    form = admin_page(client, rows["incident"], "change")
    assert field_label("Stichwörter") in form and field_label("Betroffene Nutzer") in form
    assert "Wird auf der Statusseite angezeigt." in form
    # The choices of the matrix, translated; the stored words stay English.
    assert '<option value="multiple" selected>mehrere</option>' in form
    assert '<option value="complete" selected>vollständig</option>' in form
    assert "Listed on the status page." not in form


def test_a_casework_investigation_in_german(client, admin_de, rows):
    client.force_login(admin_de)
    changelist = admin_page(client, rows["investigation"], "changelist")
    for column in ("Ticket", "Entscheidung", "Sekunden bis zum ersten Beleg",
                   "Aktualisiert am"):
        assert header(column) in changelist, column
    assert "Technische Fallbearbeitung" in changelist and "Untersuchungen" in changelist
    form = admin_page(client, rows["investigation"], "change")
    assert field_label("Was der Kunde erreichen möchte") in form
    assert field_label("Aktuelle Hypothese") in form
    assert "Erste Zuweisung des Tickets." in form
    assert ">Noch in Untersuchung</option>" in form
    assert inline_heading("Belege", form)  # the evidence inline
    assert "Current hypothesis" not in form and "First assignment of the ticket." not in form


def test_a_knowledge_article_in_german(client, admin_de, rows):
    client.force_login(admin_de)
    changelist = admin_page(client, rows["article"], "changelist")
    for column in ("Titel", "Status", "Zielgruppe", "Bereich", "Verantwortlich",
                   "Prüfung fällig am", "Aufrufe"):
        assert header(column) in changelist, column
    assert "Wissensdatenbank" in changelist and "Knowledge base" not in changelist
    form = admin_page(client, rows["article"], "change")
    assert field_label("Kurze Antwort") in form and field_label("Schlagwörter") in form
    assert "Markdown; wird sicher dargestellt." in form
    assert "Die Ticket-Kategorie, die dieser Artikel beantwortet (Abdeckung)." in form
    assert inline_heading("Artikelversionen", form)
    assert "Quick answer" not in form and "Markdown; rendered safely." not in form


def test_the_english_admin_keeps_the_english_labels(client, admin_en, rows):
    client.force_login(admin_en)
    assert header("Is current") in admin_page(client, rows["scorecard"], "changelist")
    scorecard = admin_page(client, rows["scorecard"], "change")
    assert "Quality assurance" in scorecard and field_label("Previous") in scorecard
    assert "New reviews and samples use the current version of a name." in scorecard
    shifts = admin_page(client, rows["shift"], "changelist")
    assert header("Starts at") in shifts and header("Break minutes") in shifts
    assert "Scheduled shifts" in shifts and "Workforce" in shifts
    incident = admin_page(client, rows["incident"], "change")
    assert field_label("Users affected") in incident and "Listed on the status page." in incident
    assert '<option value="multiple" selected>multiple</option>' in incident
    investigation = admin_page(client, rows["investigation"], "change")
    assert field_label("What the customer is trying to do") in investigation
    assert "Technical casework" in investigation and inline_heading("Evidence", investigation)
    article = admin_page(client, rows["article"], "change")
    assert field_label("Quick answer") in article and "Markdown; rendered safely." in article
    assert header("Review due on") in admin_page(client, rows["article"], "changelist")
    assert "Kurze Antwort" not in article and "Wissensdatenbank" not in article


def _untranslated_labels(model) -> list[str]:
    opts = model._meta
    found = [f"{opts.label}.Meta.{name}" for name in ("verbose_name", "verbose_name_plural")
             if not isinstance(getattr(opts, name), Promise)]
    for field in opts.get_fields():
        if not (field.concrete or field.many_to_many) or field.auto_created:
            continue
        if field.model is not model and field.model._meta.app_label not in APPS:
            continue  # inherited from another app's abstract model
        where = f"{opts.label}.{field.name}"
        if not isinstance(field.verbose_name, Promise):
            found.append(f"{where}.verbose_name")
        if field.help_text and not isinstance(field.help_text, Promise):
            found.append(f"{where}.help_text")
        languages = [tuple(choice) for choice in field.choices or []] == settings.LANGUAGES
        if field.choices and not languages:  # languages are named in their own language
            found += [f"{where}.choices[{value!r}]" for value, label in field.flatchoices
                      if label != "—" and not isinstance(label, Promise)]
    return found


def test_every_model_label_of_these_apps_is_translatable():
    untranslated = [f"{label}.verbose_name" for label in APPS
                    if not isinstance(apps.get_app_config(label).verbose_name, Promise)]
    for label in APPS:
        for model in apps.get_app_config(label).get_models():
            untranslated += _untranslated_labels(model)
    assert untranslated == []


def test_the_walk_finds_a_plain_label(monkeypatch):
    """The check above fails on a plain string (it is not vacuous)."""
    field = Scorecard._meta.get_field("description")
    monkeypatch.setattr(field, "verbose_name", "description")
    assert _untranslated_labels(Scorecard) == ["qa.Scorecard.description.verbose_name"]


LABEL_MIGRATIONS = [("knowledge", "0007_translatable_labels"),
                    ("reporting", "0004_translatable_labels"), ("qa", "0004_translatable_labels"),
                    ("workforce", "0006_translatable_labels"),
                    ("incidents", "0006_translatable_labels"),
                    ("casework", "0003_translatable_labels")]
LABELS = {"verbose_name", "verbose_name_plural", "help_text", "choices"}


@pytest.mark.parametrize("key", LABEL_MIGRATIONS, ids=lambda key: key[0])
def test_the_label_migrations_change_labels_only(key):
    """Their operations skip the database (one re-render instead of one per field): each
    must change nothing but labels, which no database stores."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    state = loader.project_state(sorted(p.key for p in loader.graph.node_map[key].parents),
                                 at_end=True)
    [labels] = loader.get_migration(*key).operations
    app_label = key[0]
    for operation in labels.state_operations:
        if isinstance(operation, migrations.AlterModelOptions):
            old = state.models[app_label, operation.name_lower].options
            changed = {k for k in operation.ALTER_OPTION_KEYS
                       if old.get(k) != operation.options.get(k)}
            assert changed <= LABELS, (operation.name, changed)
        else:
            assert isinstance(operation, migrations.AlterField), operation
            old = state.models[app_label, operation.model_name_lower].fields[operation.name]
            before, after = old.deconstruct(), operation.field.deconstruct()
            assert before[1:3] == after[1:3], (operation.model_name, operation.name)
            changed = {k for k in before[3].keys() | after[3].keys()
                       if before[3].get(k) != after[3].get(k)}
            assert changed <= LABELS, (operation.model_name, operation.name, changed)

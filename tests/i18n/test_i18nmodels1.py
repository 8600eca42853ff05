"""The Django admin of the identity, ticket, SLA, e-mail, privacy, webhook and import apps in
German: app and model names, column headers, field labels, help texts and choice labels come
from the models' translatable labels (issue 22); an English admin keeps the English ones,
and every model and field of these apps keeps a translatable label."""
from __future__ import annotations

import re
from datetime import time

import pytest
from django.apps import apps
from django.db import models
from django.urls import reverse
from django.utils import translation
from django.utils.functional import Promise

from helpdesk.models import AssignmentStrategy, AuditEntry
from helpdesk.roles import Role
from mailgate.models import Mailbox
from sla.models import BusinessHours, Calendar, Policy, Weekday
from tests.factories import make_ticket, make_user

APPS = ("helpdesk", "tickets", "sla", "mailgate", "privacy", "webhooks", "importers")


@pytest.fixture
def admin_de(db):
    return make_user(Role.ADMIN, username="adele", language="de")


@pytest.fixture
def admin_en(db):
    return make_user(Role.ADMIN, username="adam")  # no language chosen, browser sends none


@pytest.fixture
def ticket(customer_a):
    return make_ticket(customer_a, subject="Export fails")


@pytest.fixture
def mailbox(db) -> Mailbox:
    return Mailbox.objects.create(name="support", address="support@example.com")


@pytest.fixture
def policy(db) -> Policy:
    return Policy.objects.create(name="Enterprise 24/7", order=1, pause_on_third_party=True)


def page(client, name: str, *args, **headers) -> str:
    response = client.get(reverse(f"admin:{name}", args=args), headers=headers)
    assert response.status_code == 200, (name, response.status_code)
    return response.content.decode()


def column(html: str, field: str) -> str:
    """The header text of a changelist column."""
    found = re.search(rf'<th scope="col"[^>]*column-{field}[" ].*?<div class="text">'
                      rf'(?:<a [^>]*>|<span>)?([^<]+)<', html, re.S)
    assert found, f"no column {field}"
    return found.group(1).strip()


def label(html: str, field: str) -> str:
    """An editable field's label on a change form."""
    found = re.search(rf'<label[^>]*for="id_{field}"[^>]*>([^<]+)</label>', html)
    assert found, f"no label for {field}"
    return found.group(1).strip()


def help_texts(html: str) -> list[str]:
    return [t.strip() for t in re.findall(r'<div class="help"[^>]*>\s*<div>(.*?)</div>', html,
                                          re.S)]


# --- German ---------------------------------------------------------------------------------

def test_the_ticket_admin_in_german(client, admin_de, ticket):
    client.force_login(admin_de)
    listing = page(client, "tickets_ticket_changelist")
    assert "<h1>Ticket zur Änderung auswählen</h1>" in listing
    assert [column(listing, f) for f in ("subject", "priority", "assignee", "requester",
                                         "organization", "created_at", "sla_due_at")] == [
        "Betreff", "Priorität", "Zuständig", "Anfragende Person", "Organisation",
        "Erstellt am", "SLA fällig am"]
    assert "Nach Kanal" in listing and "Nach Kategorie" in listing  # filters: field names
    assert "Assignee" not in listing and "Created at" not in listing

    form = page(client, "tickets_ticket_change", ticket.pk)
    assert label(form, "subject") == "Betreff:" and label(form, "product_area") == \
        "Produktbereich:"
    # Read-only on the change form, with their own labels and help texts.
    assert "<label>Anzahl Wiedereröffnungen:</label>" in form
    assert "<label>In Kopie:</label>" in form
    helps = help_texts(form)
    assert "Markdown; wird sicher dargestellt." in helps
    assert "Erste öffentliche Antwort eines Agenten." in helps
    assert "Markdown; rendered safely." not in form


def test_the_sla_policy_admin_in_german(client, admin_de, policy):
    client.force_login(admin_de)
    listing = page(client, "sla_policy_changelist")
    assert "<h1>Richtlinie zur Änderung auswählen</h1>" in listing
    assert [column(listing, f) for f in ("order", "is_active", "pause_on_third_party",
                                         "apply_tier_multipliers")] == [
        "Reihenfolge", "Aktiv", "Bei Dritten pausieren", "Stufenfaktoren anwenden"]

    form = page(client, "sla_policy_change", policy.pk)
    assert '&rsaquo; <a href="/admin/sla/policy/">Richtlinien</a>' in form  # the plural
    assert label(form, "order") == "Reihenfolge:"
    assert label(form, "custom_field_conditions") == "Bedingungen an Zusatzfelder:"
    assert "Warten auf Dritte pausiert die Uhren." in help_texts(form)
    # The targets inline: its title and column headers are the Target model's labels.
    assert re.search(r'<h2 id="targets-heading" class="inline-heading">\s*Ziele\s*</h2>', form)
    assert 'class="column-metric required">Kennzahl' in form
    assert 'title="Die Zusage im Support-Vertrag."' in form
    assert "Waiting on a third party pauses the clocks." not in form


def test_the_mailbox_admin_in_german(client, admin_de, mailbox):
    client.force_login(admin_de)
    listing = page(client, "mailgate_mailbox_changelist")
    assert "<h1>Postfach zur Änderung auswählen</h1>" in listing
    assert [column(listing, f) for f in ("address", "imap_host", "last_polled_at",
                                         "last_error")] == [
        "Adresse", "IMAP-Host", "Zuletzt abgerufen am", "Letzter Fehler"]

    form = page(client, "mailgate_mailbox_change", mailbox.pk)
    assert "<a href=\"/admin/mailgate/\">E-Mail-Kanal</a>" in form  # the app, in breadcrumbs
    assert label(form, "address") == "Adresse:" and label(form, "imap_tls") == "IMAP über TLS"
    assert label(form, "default_priority") == "Standardpriorität:"
    helps = help_texts(form)
    assert "An diese Adresse schreiben Kunden (und sie sehen sie)." in helps
    assert "Name der Umgebungsvariable mit dem IMAP-Passwort." in helps
    # The priorities offered are the ticket's, in German.
    assert ">P2 hoch</option>" in form


def test_choice_labels_in_german(client, admin_de, l1):
    client.force_login(admin_de)
    form = page(client, "helpdesk_team_change", l1.pk)
    assert ">L1 allgemein</option>" in form and ">Reihum</option>" in form
    assert label(form, "assignment_strategy") == "Zuweisungsstrategie:"
    assert "Erhält Tickets, die keine Eingangsregel anderswohin leitet." in help_texts(form)


def test_the_admin_index_names_apps_and_models_in_german(client, admin_de):
    client.force_login(admin_de)
    index = page(client, "index")
    for app in ("Identität", "E-Mail-Kanal", "Datenschutz für Kunden", "Importe", "Webhooks"):
        assert f'title="Modelle der {app}-Anwendung"' in index, app
    for model in ("Organisationen", "Postfächer", "Richtlinien", "Aufbewahrungsrichtlinien",
                  "Zusatzfelder", "Importläufe", "Endpunkte", "Geschäftszeiten"):
        assert f">{model}</a>" in index, model
    assert "Email channel" not in index and "Mailboxes" not in index


def test_accept_language_alone_gives_the_german_admin(client, admin_en, mailbox):
    client.force_login(admin_en)  # no language of her own: the browser's decides
    form = page(client, "mailgate_mailbox_change", mailbox.pk, accept_language="de")
    assert label(form, "address") == "Adresse:"
    assert "An diese Adresse schreiben Kunden (und sie sehen sie)." in help_texts(form)


# --- English --------------------------------------------------------------------------------

def test_the_english_admin_keeps_the_english_labels(client, admin_en, ticket, policy, mailbox):
    client.force_login(admin_en)
    listing = page(client, "tickets_ticket_changelist")
    assert [column(listing, f) for f in ("subject", "assignee", "created_at", "sla_due_at")] \
        == ["Subject", "Assignee", "Created at", "Sla due at"]  # as Django derived them
    form = page(client, "tickets_ticket_change", ticket.pk)
    assert label(form, "product_area") == "Product area:"
    assert "Markdown; rendered safely." in help_texts(form)
    assert "<label>Reopen count:</label>" in form

    policy_form = page(client, "sla_policy_change", policy.pk)
    assert label(policy_form, "custom_field_conditions") == "Custom field conditions:"
    assert "Waiting on a third party pauses the clocks." in help_texts(policy_form)
    assert "Richtlinie" not in policy_form

    mailbox_form = page(client, "mailgate_mailbox_change", mailbox.pk)
    assert label(mailbox_form, "imap_tls") == "IMAP over TLS"
    assert "Customers write to (and see) this." in help_texts(mailbox_form)
    assert "<a href=\"/admin/mailgate/\">Email channel</a>" in mailbox_form

    index = page(client, "index")
    assert 'title="Models in the Identity application"' in index and ">Mailboxes</a>" in index
    assert "Postfächer" not in index and "Zuständig" not in listing


# --- what is stored stays English -----------------------------------------------------------

def test_stored_labels_stay_english_whatever_the_language(customer_a, l1):
    """The audit trail keeps the English labels: the assignment reason on the timeline and
    the audit log's name of a changed object (translated when shown, if at all)."""
    l1.assignment_strategy = AssignmentStrategy.ROUND_ROBIN
    l1.save()
    make_user(Role.AGENT, teams=(l1,))
    calendar = Calendar.objects.create(name="Berlin office", timezone="Europe/Berlin")
    with translation.override("de"):
        ticket = make_ticket(customer_a)
        hours = BusinessHours.objects.create(calendar=calendar, weekday=Weekday.MONDAY,
                                             start=time(9), end=time(17))
        assert str(hours).startswith("Montag")  # shown in German...
    status = ticket.events.get(kind="status")
    assert status.note == "Round robin"  # ... stored in English
    entry = AuditEntry.objects.get(model="sla.BusinessHours", object_id=str(hours.pk))
    assert entry.object_repr == "Monday 09:00–17:00"


# --- every model stays translatable ---------------------------------------------------------

def _models() -> list[type[models.Model]]:
    # get_models() leaves out the auto-created many-to-many tables (they have no admin).
    return [m for label in APPS for m in apps.get_app_config(label).get_models()]


def _labelled_fields(model: type[models.Model]) -> list[models.Field]:
    """Concrete fields and many-to-many fields, own or inherited; not reverse relations, not
    the implicit primary key (its "ID" is the same in every language)."""
    return [f for f in model._meta.get_fields()
            if (f.concrete or f.many_to_many) and not f.auto_created]


def _has_german(text: Promise) -> bool:
    with translation.override("en"):
        english = str(text)
    return english in translation.trans_real.translation("de")._catalog


@pytest.mark.parametrize("model", _models(), ids=lambda m: m._meta.label)
def test_every_model_and_field_label_is_translatable(model):
    opts = model._meta
    # A label Django derives from a name is a plain string, so it can never be translated;
    # Django's "{}s" plural is lazy but not a translation either, so it must be set.
    assert isinstance(opts.verbose_name, Promise) and _has_german(opts.verbose_name), (
        f"{opts.label}: Meta.verbose_name = _(...) with a German translation")
    assert "verbose_name_plural" in opts.original_attrs, (
        f"{opts.label}: Meta.verbose_name_plural = _(...)")
    assert isinstance(opts.verbose_name_plural, Promise) and \
        _has_german(opts.verbose_name_plural), f"{opts.label}: verbose_name_plural"
    untranslatable = [f.name for f in _labelled_fields(model)
                      if not isinstance(f.verbose_name, Promise) or not _has_german(f.verbose_name)]
    assert not untranslatable, (
        f"{opts.label}: give {untranslatable} verbose_name=_(...) and a German translation")
    plain_help = [f.name for f in _labelled_fields(model)
                  if f.help_text and not isinstance(f.help_text, Promise)]
    assert not plain_help, f"{opts.label}: wrap the help_text of {plain_help} in _()"

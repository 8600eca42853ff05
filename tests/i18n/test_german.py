"""German end to end on the server side: the portal, the help center, a dashboard, the
customer's e-mails and the staff's notifications speak the reader's language, and dates,
numbers and times follow their locale and zone."""
from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import translation

from helpdesk.models import Notification
from helpdesk.web import countdown
from knowledge import services as kb
from mailgate.models import Mailbox
from tests.factories import make_ticket
from tickets import services

pytestmark = pytest.mark.django_db

MONDAY_10 = dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.UTC)



@pytest.fixture
def mailbox(db):
    return Mailbox.objects.create(name="support", address="support@helpdesk.test", imap_host="")


def test_the_portal_in_german_with_german_dates_in_her_zone(client, kunde):
    with time_machine.travel(MONDAY_10, tick=False):
        ticket = make_ticket(kunde, subject="Export schlägt fehl")
    client.force_login(kunde)
    listing = client.get(reverse("portal:tickets")).content.decode()
    assert "Meine Anfragen" in listing and "Anfrage stellen" in listing
    assert "Export schlägt fehl" in listing
    assert "30. November 2026" in listing  # "j. F Y": German day and month
    detail = client.get(reverse("portal:ticket", args=[ticket.pk])).content.decode()
    assert "Verlauf" in detail and "Letzte Aktivität" in detail
    assert "30. November 2026, 11:00" in detail  # 10:00 UTC is 11:00 in Berlin
    new = client.get(reverse("portal:new_ticket")).content.decode()
    assert "Anfrage absenden" in new and "Markdown wird unterstützt." in new


def test_the_same_portal_stays_english_for_an_english_customer(client, customer_a):
    with time_machine.travel(MONDAY_10, tick=False):
        make_ticket(customer_a)
    client.force_login(customer_a)
    listing = client.get(reverse("portal:tickets")).content.decode()
    assert "My requests" in listing and "30 Nov 2026" in listing
    assert "Meine Anfragen" not in listing


def test_a_portal_message_is_in_the_readers_language(client, kunde):
    ticket = make_ticket(kunde)
    client.force_login(kunde)
    response = client.post(reverse("portal:reply", args=[ticket.pk]), {"body": "Noch da?"},
                           follow=True)
    assert "Ihre Antwort wurde gesendet." in response.content.decode()


def test_the_help_center_article_page_in_german(client, kunde):
    article = kb.create_article(title="Passwort zurücksetzen", author=None, language="de",
                                summary="Klicken Sie auf „Passwort vergessen“.", body="Text.")
    kb.publish(article, actor=None)
    client.force_login(kunde)
    page = client.get(reverse("knowledge:article", args=[article.slug])).content.decode()
    assert "War das hilfreich?" in page and "Kurze Antwort:" in page
    assert "Brauchen Sie noch Hilfe?" in page and 'lang="de"' in page


def test_a_dashboard_in_german_with_german_numbers(client, agentin):
    client.force_login(agentin)
    page = client.get(reverse("metrics:mine")).content.decode()
    assert "<h1>Meine Kennzahlen</h1>" in page
    assert "Erste Antwortzeit diese Woche (Median)" in page
    assert "Anwenden" in page and "Zurücksetzen" in page
    with translation.override("de"):
        from reporting.views import _pct
        assert _pct(87.5) == "87,5 %"  # the decimal comma
    with translation.override("en"):
        assert _pct(87.5) == "87.5 %"


def test_countdowns_speak_the_readers_language():
    now = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
    with translation.override("de"):
        assert ">in 1\xa0Stunde, 5\xa0Minuten<" in countdown(now + dt.timedelta(minutes=65), now)
        assert ">überfällig seit 5\xa0Minuten<" in countdown(now - dt.timedelta(minutes=5), now)
    with translation.override("en"):
        assert ">in 1\xa0hour, 5\xa0minutes<" in countdown(now + dt.timedelta(minutes=65), now)


def test_the_acknowledgement_e_mail_is_in_the_customers_language(kunde, customer_a, agent,
                                                                 mailbox, run):
    with time_machine.travel(MONDAY_10, tick=False):
        run(make_ticket, kunde, subject="Export schlägt fehl")
        run(make_ticket, customer_a, subject="Export fails")
    [german] = [m for m in mail.outbox if m.to == [kunde.email]]
    [english] = [m for m in mail.outbox if m.to == [customer_a.email]]
    assert german.subject.startswith("Wir haben Ihre Anfrage erhalten: Export schlägt fehl")
    assert "Hallo Greta," in german.body and "vielen Dank für Ihre Nachricht" in german.body
    # Her zone and her language: Monday in German, Berlin time.
    assert "Wir möchten bis Montag" in german.body and "(Europe/Berlin)" in german.body
    assert "Hallo" in german.alternatives[0][0]
    assert english.subject.startswith("We received your request: Export fails")


def test_an_agent_reply_e_mail_has_the_german_footer(kunde, agent, mailbox, run):
    ticket = run(make_ticket, kunde)
    mail.outbox.clear()
    run(services.add_reply, ticket, author=agent, body="Bitte versuchen Sie es erneut.",
            public=True)
    [reply] = [m for m in mail.outbox if m.to == [kunde.email]]
    assert "Bitte versuchen Sie es erneut." in reply.body
    assert "Antworten Sie auf diese E-Mail" in reply.body and "Sie schrieben:" in reply.body


def test_staff_notifications_are_written_in_each_recipients_language(
        agentin, customer_a, run):
    ticket = run(make_ticket, customer_a)  # L1 is round robin: anke is its only member
    assert ticket.assignee == agentin
    [note] = Notification.objects.filter(recipient=agentin, source="staff.assigned")
    assert note.title == f"[#{ticket.pk}] Ihnen zugewiesen: Cannot log in"
    assert "hat Ihnen" in note.body


def test_the_password_reset_e_mail_follows_the_page_language(client, kunde):
    client.post(reverse("password_reset"), {"email": kunde.email}, HTTP_ACCEPT_LANGUAGE="de")
    [message] = mail.outbox
    assert "Jemand hat angefordert, das Passwort" in message.body

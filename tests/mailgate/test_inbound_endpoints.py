"""POST /mail/inbound/<mailbox>/ and `manage.py ingest_email`: one raw message each."""
from __future__ import annotations

import io
import sys

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from mailgate.models import InboundMessage, Quarantine
from tickets.models import Ticket

from .conftest import corpus

pytestmark = pytest.mark.django_db

TOKEN = "s3cret-webhook-token-for-tests"


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setenv("MAILGATE_TEST_TOKEN", TOKEN)
    return TOKEN


def post(client, raw: bytes, *, name="support", auth=f"Bearer {TOKEN}"):
    headers = {"HTTP_AUTHORIZATION": auth} if auth else {}
    return client.post(reverse("mailgate:inbound", args=[name]), data=raw,
                       content_type="message/rfc822", **headers)


def test_webhook_ingests_raw_message_once(client, mailbox, token):
    response = post(client, corpus("01_new_plain.eml"))
    assert response.status_code == 202
    ticket = Ticket.objects.get()
    assert response.json() == {"status": "ticket_created", "duplicate": False,
                               "ticket": ticket.pk}
    again = post(client, corpus("01_new_plain.eml"))
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert Ticket.objects.count() == 1


@pytest.mark.parametrize("auth", ["", "Bearer wrong-token", f"Basic {TOKEN}", "Bearer "])
def test_webhook_refuses_missing_or_wrong_token(client, mailbox, token, auth):
    response = post(client, corpus("01_new_plain.eml"), auth=auth)
    assert response.status_code == 401
    assert not InboundMessage.objects.exists()


def test_unknown_mailbox_and_unconfigured_token_look_the_same(client, mailbox, monkeypatch):
    monkeypatch.delenv("MAILGATE_TEST_TOKEN", raising=False)  # endpoint off for this mailbox
    assert post(client, corpus("01_new_plain.eml")).status_code == 401
    monkeypatch.setenv("MAILGATE_TEST_TOKEN", TOKEN)
    assert post(client, corpus("01_new_plain.eml"), name="nope").status_code == 401


def test_webhook_size_limit(client, mailbox, token, settings):
    settings.MAILGATE_MAX_MESSAGE_BYTES = 300
    response = post(client, corpus("01_new_plain.eml"))
    assert response.status_code == 413
    assert not InboundMessage.objects.exists() and not Quarantine.objects.exists()


def test_webhook_is_rate_limited(client, mailbox, token, settings):
    settings.MAILGATE_INBOUND_PER_MINUTE = 2
    assert post(client, corpus("01_new_plain.eml")).status_code == 202
    assert post(client, corpus("08_windows1252.eml")).status_code == 202
    assert post(client, corpus("06_latin1_encoded_subject.eml")).status_code == 429
    assert Ticket.objects.count() == 2


def test_webhook_only_accepts_post(client, mailbox, token):
    response = client.get(reverse("mailgate:inbound", args=["support"]),
                          HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 405


def test_webhook_quarantines_unparseable_message(client, mailbox, token):
    response = post(client, corpus("14_malformed_no_sender.eml"))
    assert response.status_code == 202 and response.json()["status"] == "quarantined"
    assert Quarantine.objects.count() == 1


def _stdin(monkeypatch, raw: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))


def test_management_command_reads_the_message_from_stdin(mailbox, monkeypatch):
    _stdin(monkeypatch, corpus("08_windows1252.eml"))
    out = io.StringIO()
    call_command("ingest_email", "--mailbox", "support", stdout=out)
    ticket = Ticket.objects.get()
    assert out.getvalue().strip() == f"ticket_created ticket #{ticket.pk}"
    assert "€12.50" in ticket.description


def test_management_command_needs_a_known_mailbox(db, monkeypatch):
    _stdin(monkeypatch, corpus("08_windows1252.eml"))
    with pytest.raises(CommandError, match="No mailbox named 'ghost'"):
        call_command("ingest_email", "--mailbox", "ghost")


def test_inactive_mailbox_takes_no_mail_by_webhook_nor_by_command(client, mailbox, token,
                                                                  monkeypatch):
    """Both doors refuse it alike, with a clear answer, and store nothing at all."""
    mailbox.is_active = False
    mailbox.save()
    assert post(client, corpus("01_new_plain.eml")).status_code == 401
    _stdin(monkeypatch, corpus("01_new_plain.eml"))
    with pytest.raises(CommandError, match="The mailbox 'support' is inactive; nothing was "
                                           "stored"):
        call_command("ingest_email", "--mailbox", "support")
    assert not InboundMessage.objects.exists() and not Quarantine.objects.exists()
    assert not Ticket.objects.exists()

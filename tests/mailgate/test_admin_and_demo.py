"""Admin pages of the email channel, the quarantine retry action, mailbox defaults, demo."""
from __future__ import annotations

import io

import pytest
from django.urls import reverse
from django.utils import timezone

from mailgate import bounces, demo, services
from mailgate.models import BounceMark, InboundMessage, Mailbox, Quarantine
from tickets.models import Priority

from .conftest import corpus

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_admin_lists_render(admin_client, mailbox, thread):
    services.ingest(corpus("14_malformed_no_sender.eml"), mailbox)
    services.ingest(corpus("02_gmail_reply.eml", thread.pk), mailbox)
    mark = BounceMark.objects.create(address="gone@acme.example", status="5.1.1",
                                     bounced_at=timezone.now(), ticket=thread)
    for model in ("mailbox", "inboundmessage", "quarantine", "outboundemail", "bouncemark"):
        response = admin_client.get(reverse(f"admin:mailgate_{model}_changelist"))
        assert response.status_code == 200, model
    page = admin_client.get(reverse("admin:mailgate_quarantine_changelist")).content.decode()
    assert "The message has no valid From address." in page
    outbox = admin_client.get(reverse("admin:mailgate_outboundemail_changelist"),
                              {"status__exact": "failed"})
    assert outbox.status_code == 200
    detail = admin_client.get(reverse("admin:mailgate_bouncemark_change", args=[mark.pk]))
    assert detail.status_code == 200 and "gone@acme.example" in detail.content.decode()


def test_admin_clears_bounce_marks(admin_client, admin_user):
    mark = BounceMark.objects.create(address="gone@acme.example", status="5.1.1",
                                     bounced_at=timezone.now())
    response = admin_client.post(reverse("admin:mailgate_bouncemark_changelist"), {
        "action": "clear_marks", "_selected_action": [mark.pk]})
    assert response.status_code == 302
    mark.refresh_from_db()
    assert mark.cleared_by == admin_user and not bounces.is_held("gone@acme.example")


def test_admin_retry_ingest_action(admin_client, mailbox, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("search index down")

    original = services.ticket_services.create_ticket
    monkeypatch.setattr(services.ticket_services, "create_ticket", broken)
    services.ingest(corpus("08_windows1252.eml"), mailbox)
    row = Quarantine.objects.get()
    monkeypatch.setattr(services.ticket_services, "create_ticket", original)
    response = admin_client.post(reverse("admin:mailgate_quarantine_changelist"), {
        "action": "retry_ingest", "_selected_action": [row.pk]}, follow=True)
    assert "1 message ingested." in response.content.decode()
    row.refresh_from_db()
    assert row.resolved_at is not None
    assert row.inbound.ticket.subject == "Wrong amount on the Pay now button"


def test_admin_retry_of_a_still_broken_message_keeps_it(admin_client, mailbox):
    services.ingest(corpus("14_malformed_no_sender.eml"), mailbox)
    row = Quarantine.objects.get()
    response = admin_client.post(reverse("admin:mailgate_quarantine_changelist"), {
        "action": "retry_ingest", "_selected_action": [row.pk]}, follow=True)
    assert "1 message still fails" in response.content.decode()
    row.refresh_from_db()
    assert row.resolved_at is None and not InboundMessage.objects.exists()


def test_mailbox_defaults_apply_to_new_tickets(mailbox, l2):
    mailbox.default_team = l2
    mailbox.default_priority = Priority.P2
    mailbox.save()
    ticket = services.ingest(corpus("08_windows1252.eml"), mailbox).ticket
    assert ticket.priority == Priority.P2
    assert ticket.team == l2 and ticket.assignee is None


def test_demo_mailbox_is_inactive_without_secret_and_idempotent(db):
    out = io.StringIO()
    demo.seed_demo(out)
    demo.seed_demo(out)
    box = Mailbox.objects.get()
    assert not box.is_active and box.password() == ""
    assert out.getvalue().count("Demo mailbox") == 1

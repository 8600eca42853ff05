"""German for the audit log and for the e-mail a trigger or an automation sends to
customers (`customer.update`): each customer reads it in their own language (issue 22)."""
from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from helpdesk.models import AuditEntry
from helpdesk.roles import Role
from mailgate import notices
from tests.factories import make_ticket, make_user

pytestmark = pytest.mark.django_db


def test_the_audit_log_in_german(client):
    admin = make_user(Role.ADMIN, username="adele", language="de")
    AuditEntry.objects.create(actor=admin, actor_label="user #1", action="change",
                              model="helpdesk.team", object_id="1", object_repr="L1",
                              changes={"name": ["L1", "Level 1"]})
    client.force_login(admin)
    page = client.get(reverse("audit_log")).content.decode()
    assert '<h1 id="audit-title">Audit-Protokoll</h1>' in page
    assert "Objekttyp" in page and "Änderungen" in page and "Geändert" in page


def test_a_trigger_e_mail_reaches_each_customer_in_their_language(
        kunde, customer_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        german = make_ticket(kunde, subject="Export schlägt fehl")
        english = make_ticket(customer_a, subject="Export fails")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        for ticket in (german, english):
            notices.queue_ticket_notice("customer.update", ticket.pk, at=timezone.now(),
                                        actor_id=None, tell_actor=True,
                                        context={"update_text": "Fixed in 4.2."})
    [to_kunde] = [m for m in mail.outbox if m.to == [kunde.email]]
    [to_customer] = [m for m in mail.outbox if m.to == [customer_a.email]]
    assert "Neuigkeiten zu" in to_kunde.subject and "Export schlägt fehl" in to_kunde.subject
    assert "Hallo Greta," in to_kunde.body and "Status Ihrer Anfrage" in to_kunde.body
    assert "Fixed in 4.2." in to_kunde.body
    assert to_customer.subject.startswith("Update on") and "Hello" in to_customer.body

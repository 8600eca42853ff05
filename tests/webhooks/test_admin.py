"""The admin: endpoints with a secret shown once, the delivery log, redeliver, re-activation."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from webhooks.models import Attempt, Delivery, Endpoint

from ..factories import make_ticket

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def admin_client(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def test_adding_an_endpoint_shows_the_secret_once_then_masks_it(admin_client, receiver):
    response = admin_client.post(reverse("admin:webhooks_endpoint_add"), {
        "name": "Slack bridge", "url": receiver.url,
        "events": ["ticket.created", "sla.level_reached"], "timeout_seconds": "3",
        "is_active": "on"}, follow=True)
    assert response.status_code == 200
    endpoint = Endpoint.objects.get()
    assert endpoint.secret.startswith("whsec_") and len(endpoint.secret) > 40
    assert endpoint.events == ["ticket.created", "sla.level_reached"]
    assert endpoint.secret in response.content.decode()  # shown once, on creation

    page = admin_client.get(reverse("admin:webhooks_endpoint_change", args=[endpoint.pk]))
    assert endpoint.secret not in page.content.decode()
    assert endpoint.masked_secret in page.content.decode()


def test_redeliver_from_the_delivery_log(admin_client, receiver, endpoint_for, run,
                                         customer_a):
    with time_machine.travel(T0, tick=False):
        endpoint_for(receiver)
        run(make_ticket, customer_a)
        delivery = Delivery.objects.get()
        log = admin_client.get(reverse("admin:webhooks_delivery_changelist"),
                               {"endpoint__id__exact": delivery.endpoint_id})
        assert log.status_code == 200 and "ticket.created" in log.content.decode()
        detail = admin_client.get(reverse("admin:webhooks_delivery_change",
                                          args=[delivery.pk]))
        assert "thanks" in detail.content.decode()  # the response excerpt of attempt 1
        response = run(admin_client.post, reverse("admin:webhooks_delivery_changelist"),
                       {"action": "redeliver", "_selected_action": [delivery.pk]})
    assert response.status_code == 302
    assert Attempt.objects.filter(delivery=delivery).count() == 2
    assert len(receiver.requests) == 2
    assert {r.headers["Idempotency-Key"] for r in receiver.requests} == {str(delivery.event_id)}


def test_reactivating_a_disabled_endpoint_clears_its_failure_record(admin_client,
                                                                    endpoint_for, receiver):
    endpoint = endpoint_for(receiver, is_active=False, disabled_at=T0, failing_since=T0,
                            disabled_reason="Failing")
    admin_client.post(reverse("admin:webhooks_endpoint_change", args=[endpoint.pk]), {
        "name": endpoint.name, "url": endpoint.url, "events": endpoint.events,
        "timeout_seconds": "2", "is_active": "on"})
    endpoint.refresh_from_db()
    assert endpoint.is_active
    assert (endpoint.disabled_at, endpoint.failing_since, endpoint.disabled_reason) == (
        None, None, "")


def test_the_attempt_log_is_read_only(admin_client):
    assert admin_client.get(reverse("admin:webhooks_attempt_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:webhooks_attempt_add")).status_code == 403


def test_endpoint_changes_are_audited_without_the_secret(admin_client, receiver):
    from helpdesk.models import AuditEntry

    admin_client.post(reverse("admin:webhooks_endpoint_add"), {
        "name": "CRM", "url": receiver.url, "events": ["ticket.created"],
        "timeout_seconds": "2", "is_active": "on"})
    endpoint = Endpoint.objects.get()
    admin_client.post(reverse("admin:webhooks_endpoint_changelist"),
                      {"action": "rotate_secret", "_selected_action": [endpoint.pk]})
    entries = AuditEntry.objects.filter(model="webhooks.Endpoint")
    assert entries.filter(action="create").exists()
    assert Endpoint.objects.get().secret != endpoint.secret  # rotated
    for entry in entries:
        assert endpoint.secret not in str(entry.changes)
        assert "secret" not in entry.changes

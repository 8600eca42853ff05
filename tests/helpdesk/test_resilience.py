"""Faults inside a request: the broker down at commit, the database gone mid-request."""
from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.db import OperationalError
from django.http import HttpResponse
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerDown

from helpdesk import notification_mail, notifications, tasks
from helpdesk.middleware import DatabaseUnavailableMiddleware
from helpdesk.models import Notification

pytestmark = pytest.mark.django_db


def test_a_broker_outage_never_fails_the_action_and_the_mail_goes_out_later(
        agent, django_capture_on_commit_callbacks):
    with (mock.patch.object(tasks.send_notification_email, "delay", side_effect=BrokerDown),
          django_capture_on_commit_callbacks(execute=True)):
        note = notifications.notify(agent, title="Ticket #1 assigned to you",
                                    source="tickets.assigned")
    assert note is not None and Notification.objects.get().emailed_at is None
    assert mail.outbox == []
    # Too recent for the sweep: it may still be on its way.
    assert notifications.requeue_unsent_emails() == 0
    later = timezone.now() + timedelta(minutes=6)
    assert notifications.requeue_unsent_emails(now=later) == 1
    assert len(mail.outbox) == 1 and mail.outbox[0].subject == "Ticket #1 assigned to you"
    assert Notification.objects.get().emailed_at is not None
    assert notifications.requeue_unsent_emails(now=later) == 0  # sent once, never again
    assert len(mail.outbox) == 1


def test_the_sweep_waits_for_quiet_hours(agent):
    note = notifications.notify(agent, title="FYI", source="tickets.assigned", email=True)
    with mock.patch.object(notification_mail, "plan_delivery", return_value=notifications.Delivery(
            in_app=True, email=True, email_at=timezone.now() + timedelta(hours=3))):
        assert notifications.requeue_unsent_emails(
            now=timezone.now() + timedelta(minutes=6)) == 0
    assert Notification.objects.get(pk=note.pk).emailed_at is None


@pytest.mark.parametrize("path,json", [("/portal/", False), ("/api/v1/tickets/", True)])
def test_a_lost_database_connection_is_a_clean_503(rf, path, json):
    middleware = DatabaseUnavailableMiddleware(lambda request: HttpResponse())
    response = middleware.process_exception(rf.get(path),
                                            OperationalError("server closed the connection"))
    assert response.status_code == 503 and response["Retry-After"] == "5"
    body = response.content.decode()
    assert "nothing was saved" in body and "server closed" not in body
    assert response["Content-Type"].startswith("application/json" if json else "text/html")
    assert middleware.process_exception(rf.get(path), ValueError("other")) is None

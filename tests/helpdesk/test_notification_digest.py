"""The e-mail digest: notices collected and sent together every N minutes, exactly once."""
from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
import time_machine
from django.conf import settings
from django.core import mail

from helpdesk import notifications, tasks
from helpdesk.celery import app
from helpdesk.models import Notification, NotificationPreference

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def at(minutes: float):
    return time_machine.travel(T0 + dt.timedelta(minutes=minutes), tick=False)


@pytest.fixture
def busy(agent):
    """Agnes wants one e-mail every 30 minutes."""
    NotificationPreference.objects.create(user=agent, digest_minutes=30)
    return agent


def tell(user, capture, title: str, **kwargs):
    with capture(execute=True):
        return notifications.notify(user, title=title, source="staff.followed_update",
                                    url="/agent/tickets/7/", **kwargs)


def test_notices_are_collected_then_sent_as_one_email(busy, django_capture_on_commit_callbacks):
    for minute, title in ((0, "Reply on #7"), (5, "Note on #7"), (10, "Status of #7")):
        with at(minute):
            note = tell(busy, django_capture_on_commit_callbacks, title)
            assert note.in_digest and note.read_at is None  # in the bell at once
    assert mail.outbox == []
    with at(29):
        assert notifications.send_due_digests() == 0  # the oldest waited 29 minutes
    with at(30):
        assert notifications.send_due_digests() == 1
    [digest] = mail.outbox
    assert digest.to == [busy.email]
    assert digest.subject == "3 helpdesk notifications for you"
    for title in ("Reply on #7", "Note on #7", "Status of #7"):
        assert title in digest.body
    assert f"{settings.HELPDESK_BASE_URL}/agent/tickets/7/" in digest.body
    assert "{{" not in digest.body
    html = digest.alternatives[0][0]
    assert '<li><a href="http' in html
    assert not Notification.objects.filter(emailed_at__isnull=True).exists()
    with at(31):
        assert notifications.send_due_digests() == 0  # never twice
    assert len(mail.outbox) == 1


def test_the_next_digest_collects_for_another_n_minutes(busy,
                                                         django_capture_on_commit_callbacks):
    with at(0):
        tell(busy, django_capture_on_commit_callbacks, "First")
    with at(30):
        notifications.send_due_digests()
    with at(31):
        tell(busy, django_capture_on_commit_callbacks, "Second")
    with at(45):
        assert notifications.send_due_digests() == 0
    with at(61):
        assert notifications.send_due_digests() == 1
    assert "Second" in mail.outbox[1].body and "First" not in mail.outbox[1].body


def test_urgent_notices_skip_the_digest(busy, django_capture_on_commit_callbacks):
    with at(0):
        note = tell(busy, django_capture_on_commit_callbacks, "P1 customer answered",
                    urgent=True)
    assert not note.in_digest
    assert [m.subject for m in mail.outbox] == ["P1 customer answered"]


def test_a_failed_send_loses_nothing_and_the_next_run_sends(busy,
                                                            django_capture_on_commit_callbacks):
    with at(0):
        tell(busy, django_capture_on_commit_callbacks, "Reply on #7")
    with at(30), mock.patch("django.core.mail.EmailMultiAlternatives.send",
                            side_effect=OSError("SMTP down")):
        assert notifications.send_due_digests() == 0
    assert Notification.objects.filter(emailed_at__isnull=True).count() == 1
    with at(31):
        assert notifications.send_due_digests() == 1
    assert len(mail.outbox) == 1


def test_a_second_worker_finds_nothing_to_send(busy, django_capture_on_commit_callbacks):
    with at(0):
        tell(busy, django_capture_on_commit_callbacks, "Reply on #7")
    with at(30):
        assert notifications.send_digest(busy.pk) is True
        assert notifications.send_digest(busy.pk) is False
        assert tasks.send_notification_digests() == 0
    assert len(mail.outbox) == 1


def test_quiet_hours_hold_the_digest_until_they_end(busy, django_capture_on_commit_callbacks):
    pref = busy.notification_preference
    pref.quiet_start, pref.quiet_end = dt.time(9, 15), dt.time(10)
    pref.save()
    with at(0):
        tell(busy, django_capture_on_commit_callbacks, "Reply on #7")
    with at(40):
        assert notifications.send_due_digests() == 0
    with at(60):
        assert notifications.send_due_digests() == 1


def test_switching_the_digest_off_sends_what_was_collected(busy,
                                                           django_capture_on_commit_callbacks):
    with at(0):
        tell(busy, django_capture_on_commit_callbacks, "Reply on #7")
    NotificationPreference.objects.filter(user=busy).update(digest_minutes=0)
    with at(1):
        assert notifications.send_due_digests() == 1


def test_collected_notices_are_not_requeued_one_by_one(busy,
                                                       django_capture_on_commit_callbacks):
    with at(0):
        tell(busy, django_capture_on_commit_callbacks, "Reply on #7")
    with at(20):
        assert notifications.requeue_unsent_emails() == 0
    assert mail.outbox == []


def test_the_digest_job_runs_every_minute_on_beat():
    entry = settings.CELERY_BEAT_SCHEDULE["notifications-send-digests"]
    assert entry["schedule"] == 60.0
    assert entry["task"] in app.tasks


def test_preferences_page_saves_the_digest(client, agent):
    client.force_login(agent)
    response = client.post("/notifications/preferences/", {
        "email_enabled": "on", "in_app_enabled": "on", "digest_minutes": "60",
        "unassigned_replies": "on", "muted": ""})
    assert response.status_code == 302
    pref = NotificationPreference.objects.get(user=agent)
    assert pref.digest_minutes == 60 and pref.unassigned_replies
    response = client.post("/notifications/preferences/", {"digest_minutes": "99999"})
    assert response.status_code == 400


def test_customers_are_not_offered_the_staff_options(client, customer_a):
    client.force_login(customer_a)
    page = client.get("/notifications/preferences/").content.decode()
    assert "digest_minutes" not in page and "unassigned_replies" not in page
    client.post("/notifications/preferences/", {
        "email_enabled": "on", "digest_minutes": "5", "unassigned_replies": "on"})
    pref = NotificationPreference.objects.get(user=customer_a)
    assert pref.digest_minutes == 0 and not pref.unassigned_replies

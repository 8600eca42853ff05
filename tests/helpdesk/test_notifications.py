"""The notification service: recorded once per key, e-mailed once."""
import pytest
from django.core import mail

from helpdesk import notifications
from helpdesk.models import Notification

pytestmark = pytest.mark.django_db


def test_notify_records_and_emails_once(agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        note = notifications.notify(agent, title="P1 at 80%", source="sla.level",
                                    url="/agent/tickets/1/", dedupe_key="clock:1:80")
        again = notifications.notify(agent, title="P1 at 80%", source="sla.level",
                                     dedupe_key="clock:1:80")
    assert note is not None and again is None
    assert Notification.objects.count() == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [agent.email]
    assert "/agent/tickets/1/" in mail.outbox[0].body
    assert notifications.send_email(note.pk) is False  # never twice
    assert len(mail.outbox) == 1


def test_unread_count_and_mark_read(agent, lead):
    notifications.notify_many([agent, lead, agent], title="Heads up", source="test",
                              email=False, dedupe_prefix="x")
    assert notifications.unread_count(agent) == 1
    assert notifications.mark_read(agent) == 1
    assert notifications.unread_count(agent) == 0
    assert notifications.unread_count(lead) == 1


def test_inactive_users_get_nothing(agent):
    agent.is_active = False
    agent.save()
    assert notifications.notify(agent, title="x", source="test") is None


def test_notify_bulk_records_all_and_falls_back_on_a_used_key(agent, lead,
                                                              django_capture_on_commit_callbacks):
    from django.utils import timezone

    def note(user, key):
        return Notification(recipient=user, title="t", source="test", dedupe_key=key,
                            created_at=timezone.now(), email_wanted=True)

    with django_capture_on_commit_callbacks(execute=True):
        notifications.notify_bulk([note(agent, "k:1"), note(lead, "k:2")])
        notifications.notify_bulk([note(agent, "k:1"), note(lead, "k:3")])
    assert sorted(Notification.objects.values_list("dedupe_key", flat=True)) == [
        "k:1", "k:2", "k:3"]
    assert len(mail.outbox) == 3

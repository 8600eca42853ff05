"""Digest e-mails with real workers: the same job queued many times at once, on several
worker processes, sends each recipient's digest exactly once and stamps every notice."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from helpdesk.mail import stable_message_id
from helpdesk.models import Notification, NotificationPreference
from helpdesk.roles import Role
from tests.factories import make_user

from .conftest import needs_postgresql, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), needs_postgresql]

TASK = "helpdesk.tasks.send_notification_digests"


def collected_notices(people: int, each: int) -> dict[int, list[int]]:
    """`each` notices waiting for the digest of `people` agents, old enough to be due."""
    waited = timezone.now() - timedelta(minutes=3)
    ids: dict[int, list[int]] = {}
    for _ in range(people):
        user = make_user(Role.AGENT)
        NotificationPreference.objects.create(user=user, digest_minutes=1)
        notes = Notification.objects.bulk_create(
            Notification(recipient=user, title=f"Change {i}", source="staff.followed_update",
                         url="/agent/tickets/1/", created_at=waited + timedelta(seconds=i),
                         email_wanted=True, in_digest=True) for i in range(each))
        ids[user.pk] = sorted(n.pk for n in notes)
    return ids


def test_the_digest_job_run_many_times_at_once_sends_each_digest_once(
        celery, redis_server, smtp_sink):
    sink, _ = smtp_sink
    notices = collected_notices(people=6, each=3)
    celery.worker(concurrency=4)
    for _ in range(8):  # a duplicate beat, a retry, an operator running it by hand...
        celery.send(TASK)
    wait_for(lambda: not Notification.objects.filter(emailed_at__isnull=True).exists(),
             timeout=60, what=lambda: "every notice in a digest\n" + celery.output())
    wait_for(lambda: redis_server.queue_length() == 0 and redis_server.unacked() == 0,
             timeout=30, what="the queue to drain")
    expected = {stable_message_id(f"digest:{uid}:{ids[0]}:{ids[-1]}")
                for uid, ids in notices.items()}
    assert sink.counts() == {message_id: 1 for message_id in expected}

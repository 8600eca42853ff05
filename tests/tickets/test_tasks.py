"""Scheduled ticket jobs run through Celery and are safe to repeat."""
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from tickets import services
from tickets.tasks import close_stale_resolved_tickets

pytestmark = pytest.mark.django_db


def test_beat_schedule_declares_the_auto_close_job():
    entry = settings.CELERY_BEAT_SCHEDULE["close-resolved-tickets"]
    assert entry["task"] == close_stale_resolved_tickets.name


def test_auto_close_task_closes_once(ticket_a, agent):
    services.transition(ticket_a, "resolved", actor=agent)
    later = timezone.now() + timedelta(days=settings.HELPDESK_AUTO_CLOSE_DAYS, hours=1)
    with time_machine.travel(later):
        assert close_stale_resolved_tickets.delay().get() == 1
        assert close_stale_resolved_tickets.delay().get() == 0
    ticket_a.refresh_from_db()
    assert ticket_a.status == "closed"
    assert ticket_a.events.filter(kind="status", after="closed").count() == 1

"""Notification preferences: channels, muted sources, quiet hours (local time), urgency."""
from __future__ import annotations

import datetime as dt
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from helpdesk import notifications
from helpdesk.models import Notification, NotificationPreference

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
TASK = "helpdesk.tasks.send_notification_email"


def prefs(user, **fields) -> NotificationPreference:
    return NotificationPreference.objects.create(user=user, **fields)


def night_owl(user) -> NotificationPreference:
    """Quiet 22:00–07:00 Berlin time (across midnight)."""
    user.time_zone = "Europe/Berlin"
    user.save(update_fields=["time_zone"])
    return prefs(user, quiet_start=dt.time(22), quiet_end=dt.time(7))


def send(user, capture, **kwargs):
    kwargs.setdefault("title", "Heads up")
    kwargs.setdefault("source", "sla.level")
    with capture(execute=True):
        return notifications.notify(user, **kwargs)


def test_no_preferences_means_in_app_and_email(agent, django_capture_on_commit_callbacks):
    note = send(agent, django_capture_on_commit_callbacks)
    assert note.read_at is None and note.email_wanted
    assert len(mail.outbox) == 1


def test_email_disabled_records_without_email(agent, django_capture_on_commit_callbacks):
    prefs(agent, email_enabled=False)
    note = send(agent, django_capture_on_commit_callbacks, urgent=True)
    assert note.read_at is None and not note.email_wanted
    assert mail.outbox == []
    assert notifications.unread_count(agent) == 1


def test_in_app_disabled_records_as_read_but_still_emails(agent,
                                                         django_capture_on_commit_callbacks):
    prefs(agent, in_app_enabled=False)
    note = send(agent, django_capture_on_commit_callbacks)
    assert Notification.objects.filter(pk=note.pk, read_at__isnull=False).exists()
    assert notifications.unread_count(agent) == 0
    assert len(mail.outbox) == 1


@pytest.mark.parametrize("muted", [["sla.level"], ["sla"], [" sla "]])
def test_muted_source_is_recorded_as_read_and_not_emailed(agent, muted,
                                                         django_capture_on_commit_callbacks):
    prefs(agent, muted_sources=muted)
    note = send(agent, django_capture_on_commit_callbacks, source="sla.level")
    assert note.source == "sla.level"  # still recorded with what triggered it
    assert note.read_at is not None and not note.email_wanted
    assert mail.outbox == []


def test_mute_prefix_does_not_match_other_sources(agent, django_capture_on_commit_callbacks):
    prefs(agent, muted_sources=["sla"])
    note = send(agent, django_capture_on_commit_callbacks, source="slack.message")
    assert note.read_at is None and len(mail.outbox) == 1


def test_urgent_ignores_mutes(agent, django_capture_on_commit_callbacks):
    prefs(agent, muted_sources=["sla.level"])
    note = send(agent, django_capture_on_commit_callbacks, urgent=True)
    assert note.read_at is None and len(mail.outbox) == 1


@pytest.mark.parametrize(("local", "until"), [
    # 23:30 Berlin (CET, UTC+1) on Jan 10 -> quiet until 07:00 Berlin on Jan 11 = 06:00 UTC
    (dt.datetime(2026, 1, 10, 23, 30), dt.datetime(2026, 1, 11, 6, 0, tzinfo=dt.UTC)),
    # 02:15 Berlin after midnight -> until 07:00 the same day
    (dt.datetime(2026, 1, 11, 2, 15), dt.datetime(2026, 1, 11, 6, 0, tzinfo=dt.UTC)),
    # summer (CEST, UTC+2): 22:00 sharp is already quiet
    (dt.datetime(2026, 7, 1, 22, 0), dt.datetime(2026, 7, 2, 5, 0, tzinfo=dt.UTC)),
])
def test_quiet_hours_across_midnight_defer_the_email(agent, local, until,
                                                     django_capture_on_commit_callbacks):
    night_owl(agent)
    with time_machine.travel(local.replace(tzinfo=BERLIN), tick=False), \
            mock.patch(f"{TASK}.apply_async") as later, mock.patch(f"{TASK}.delay") as now:
        note = send(agent, django_capture_on_commit_callbacks)
    assert note.read_at is None  # shown in the bell at once
    now.assert_not_called()
    later.assert_called_once_with((note.pk,), eta=until)
    assert mail.outbox == []


@pytest.mark.parametrize("local", [
    dt.datetime(2026, 1, 10, 21, 59),  # just before
    dt.datetime(2026, 1, 11, 7, 0),    # quiet hours just ended
    dt.datetime(2026, 1, 11, 12, 0),
])
def test_outside_quiet_hours_email_goes_at_once(agent, local,
                                               django_capture_on_commit_callbacks):
    night_owl(agent)
    with time_machine.travel(local.replace(tzinfo=BERLIN), tick=False):
        send(agent, django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1


def test_quiet_hours_use_the_users_time_zone_not_utc(agent, django_capture_on_commit_callbacks):
    night_owl(agent)
    # 21:30 UTC is 22:30 in Berlin (winter): quiet for this user, not in UTC.
    with time_machine.travel(dt.datetime(2026, 1, 10, 21, 30, tzinfo=dt.UTC), tick=False), \
            mock.patch(f"{TASK}.apply_async") as later:
        send(agent, django_capture_on_commit_callbacks)
    assert later.call_args.kwargs["eta"] == dt.datetime(2026, 1, 11, 6, 0, tzinfo=dt.UTC)


def test_quiet_hours_within_one_day(agent, django_capture_on_commit_callbacks):
    prefs(agent, quiet_start=dt.time(12), quiet_end=dt.time(13))  # agent is in UTC
    with time_machine.travel(dt.datetime(2026, 3, 3, 12, 20, tzinfo=dt.UTC), tick=False), \
            mock.patch(f"{TASK}.apply_async") as later:
        send(agent, django_capture_on_commit_callbacks)
    assert later.call_args.kwargs["eta"] == dt.datetime(2026, 3, 3, 13, 0, tzinfo=dt.UTC)


def test_urgent_ignores_quiet_hours(agent, django_capture_on_commit_callbacks):
    night_owl(agent)
    with time_machine.travel(dt.datetime(2026, 1, 11, 2, 0, tzinfo=BERLIN), tick=False), \
            mock.patch(f"{TASK}.apply_async") as later, mock.patch(f"{TASK}.delay") as now:
        note = send(agent, django_capture_on_commit_callbacks, urgent=True, title="P1 breached")
    later.assert_not_called()
    now.assert_called_once_with(note.pk)


def test_deferred_email_is_still_sent_once(agent, django_capture_on_commit_callbacks):
    night_owl(agent)
    with time_machine.travel(dt.datetime(2026, 1, 11, 2, 0, tzinfo=BERLIN), tick=False), \
            mock.patch(f"{TASK}.apply_async"):
        note = send(agent, django_capture_on_commit_callbacks)
    assert notifications.send_email(note.pk) is True  # what the worker does at the eta
    assert notifications.send_email(note.pk) is False
    assert len(mail.outbox) == 1


def test_notify_bulk_honours_the_same_rules(agent, lead, l2_agent, manager,
                                           django_capture_on_commit_callbacks):
    prefs(agent, muted_sources=["sla"])
    prefs(lead, email_enabled=False, in_app_enabled=False)
    night_owl(l2_agent)
    created = timezone.now()

    def note(user, key, urgent=False):
        return Notification(recipient=user, title=key, source="sla.breach", dedupe_key=key,
                            created_at=created, email_wanted=True, urgent=urgent)

    with time_machine.travel(dt.datetime(2026, 1, 11, 2, 0, tzinfo=BERLIN), tick=False), \
            mock.patch(f"{TASK}.apply_async") as later, mock.patch(f"{TASK}.delay") as now, \
            django_capture_on_commit_callbacks(execute=True):
        notifications.notify_bulk([note(agent, "a"), note(lead, "l"), note(l2_agent, "o"),
                                   note(manager, "m"), note(agent, "a-urgent", urgent=True)])
    rows = {n.dedupe_key: n for n in Notification.objects.all()}
    assert len(rows) == 5  # everything recorded
    assert rows["a"].read_at is not None and not rows["a"].email_wanted
    assert rows["l"].read_at is not None and not rows["l"].email_wanted
    assert rows["o"].read_at is None and rows["o"].email_wanted
    assert rows["a-urgent"].read_at is None
    later.assert_called_once_with((rows["o"].pk,), eta=dt.datetime(2026, 1, 11, 6, 0,
                                                                    tzinfo=dt.UTC))
    assert sorted(c.args[0] for c in now.call_args_list) == sorted(
        [rows["a-urgent"].pk, rows["m"].pk])


# --- the preferences page ---------------------------------------------------------------

def test_preferences_page_needs_login(client):
    response = client.get(reverse("notifications:preferences"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_list_links_to_preferences(client, customer_a):
    client.force_login(customer_a)
    response = client.get(reverse("notifications:list"))
    assert reverse("notifications:preferences") in response.content.decode()


def test_user_saves_own_preferences(client, customer_a, agent):
    prefs(agent, email_enabled=False)
    client.force_login(customer_a)
    assert client.get(reverse("notifications:preferences")).status_code == 200
    response = client.post(reverse("notifications:preferences"), {
        "in_app_enabled": "on", "muted": "sla.level, tickets ,sla.level",
        "quiet_start": "22:00", "quiet_end": "07:00",
    })
    assert response.status_code == 302
    pref = NotificationPreference.objects.get(user=customer_a)
    assert (pref.email_enabled, pref.in_app_enabled) == (False, True)
    assert pref.muted_sources == ["sla.level", "tickets"]
    assert (pref.quiet_start, pref.quiet_end) == (dt.time(22), dt.time(7))
    # someone else's preferences are untouched, and cannot be addressed at all
    assert NotificationPreference.objects.get(user=agent).email_enabled is False
    assert NotificationPreference.objects.count() == 2


def test_preferences_form_refuses_half_quiet_hours(client, customer_a):
    client.force_login(customer_a)
    response = client.post(reverse("notifications:preferences"), {
        "email_enabled": "on", "quiet_start": "22:00", "muted": "",
    })
    assert response.status_code == 400
    assert not NotificationPreference.objects.exists()


def test_preferences_form_refuses_odd_sources(client, customer_a):
    client.force_login(customer_a)
    response = client.post(reverse("notifications:preferences"), {"muted": "<script>"})
    assert response.status_code == 400

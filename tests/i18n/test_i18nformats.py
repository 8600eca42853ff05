"""Dates, numbers and time zones follow the reader's language and zone (issue 22).

Monday 7 December 2026, 13:00 UTC: 14:00 in Berlin, 08:00 in New York. A German reader
sees "7. Dezember 2026, 14:00" and "1.234"; an English reader exactly the shapes of
before ("7 Dec 2026, 14:00", "Mon 7 Dec 14:00", "1,234").
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone, translation

from helpdesk import formats as display
from helpdesk.roles import Role
from mailgate.models import Mailbox
from tests.factories import make_ticket, make_user
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

MONDAY_13_UTC = dt.datetime(2026, 12, 7, 13, 0, tzinfo=dt.UTC)


def page(client, user, name, *args) -> str:
    client.force_login(user)
    response = client.get(reverse(name, args=args))
    assert response.status_code == 200
    return response.content.decode()


def open_tickets(requester, count: int, team) -> None:
    """`count` open tickets of `team` like the one make_ticket files (bulk: only the
    counts matter here)."""
    with time_machine.travel(MONDAY_13_UTC, tick=False):
        first = make_ticket(requester)
    Ticket.objects.filter(pk=first.pk).update(team=team)
    first.refresh_from_db()
    copy = {f.attname: getattr(first, f.attname) for f in Ticket._meta.concrete_fields
            if not f.primary_key}
    Ticket.objects.bulk_create([Ticket(**copy) for _ in range(count - 1)])


# --- the shapes, language by language ---------------------------------------------------

@pytest.mark.parametrize(("name", "english", "german"), [
    ("DATE_FORMAT", "7 Dec 2026", "7. Dezember 2026"),
    ("DATETIME_FORMAT", "7 Dec 2026, 14:00", "7. Dezember 2026, 14:00"),
    ("SHORT_DATE_FORMAT", "7 Dec", "7. Dez."),
    ("SHORT_DATETIME_FORMAT", "7 Dec, 14:00", "7. Dez., 14:00"),
    ("MONTH_DAY_FORMAT", "7 Dec", "7. Dezember"),
    ("YEAR_MONTH_FORMAT", "December 2026", "Dezember 2026"),
    ("TIME_FORMAT", "14:00", "14:00"),
    ("WEEKDAY_DATE_FORMAT", "Mon 7 Dec 2026", "Mo., 7. Dez. 2026"),
    ("WEEKDAY_SHORT_DATE_FORMAT", "Mon 7 Dec", "Mo., 7. Dez."),
    ("WEEKDAY_DATETIME_FORMAT", "Mon 7 Dec 2026 14:00", "Mo., 7. Dez. 2026, 14:00"),
    ("WEEKDAY_SHORT_DATETIME_FORMAT", "Mon 7 Dec 14:00", "Mo., 7. Dez., 14:00"),
    ("COMPACT_DATETIME_FORMAT", "7 Dec 2026 14:00", "7. Dez. 2026, 14:00"),
    ("ZONED_DATETIME_FORMAT", "2026-12-07 14:00 CET", "7. Dez. 2026, 14:00 CET"),
    ("LONG_DATETIME_FORMAT", "Monday 07 December 2026, 14:00",
     "Montag, 7. Dezember 2026, 14:00"),
    ("c", "2026-12-07T14:00:00+01:00", "2026-12-07T14:00:00+01:00"),  # machine: unchanged
])
def test_every_named_shape_in_english_and_german(name, english, german):
    berlin = timezone.localtime(MONDAY_13_UTC, dt.timezone(dt.timedelta(hours=1), "CET"))
    with translation.override("en"):
        assert display.date_format(berlin, name) == english
    with translation.override("de"):
        assert display.date_format(berlin, name) == german


def test_the_german_month_abbreviations_keep_their_own_dots():
    with translation.override("de"):
        assert display.date_format(dt.date(2026, 5, 4), "WEEKDAY_SHORT_DATE_FORMAT") == \
            "Mo., 4. Mai"
        assert display.date_format(dt.date(2026, 3, 2), "SHORT_DATE_FORMAT") == "2. März"


def test_with_no_language_active_the_product_shapes_fall_back_to_english():
    with translation.override(None):
        assert display.display_format("WEEKDAY_DATE_FORMAT") == "D j M Y"


@pytest.mark.parametrize(("value", "decimals", "english", "german"), [
    (1234, None, "1,234", "1.234"),
    (1234567.5, None, "1,234,567.5", "1.234.567,5"),
    (12.96, 1, "13.0", "13,0"),  # rounded half up, as floatformat did
    (2.5, 0, "3", "3"),
    (Decimal("87.50"), None, "87.50", "87,50"),  # a QA score keeps its two places
    (None, None, "", ""),
    ("—", 1, "—", "—"),
])
def test_numbers_are_grouped_in_the_readers_language(value, decimals, english, german):
    with translation.override("en"):
        assert display.number(value, decimals) == english
    with translation.override("de"):
        assert display.number(value, decimals) == german


def test_percentages_and_shares():
    with translation.override("en"):
        assert display.percent(12.345) == "12.3 %"
        assert display.share(0.8333) == "83.3 %"
        assert display.share(None) == "—"
    with translation.override("de"):
        assert display.percent(12.345) == "12,3\xa0%"
        assert display.share(0.125) == "12,5\xa0%"


# --- pages --------------------------------------------------------------------------------

def test_a_german_agent_reads_german_dates_on_the_ticket_page(client, agentin, kunde):
    with time_machine.travel(MONDAY_13_UTC, tick=False):
        ticket = make_ticket(kunde, subject="Export schlägt fehl")
    html = page(client, agentin, "agent:ticket", ticket.pk)
    assert "7. Dezember 2026, 14:00" in html  # Berlin time, German shape
    assert 'datetime="2026-12-07T14:00:00+01:00"' in html  # the attribute stays ISO
    assert "7 Dec 2026" not in html


def test_an_english_agent_reads_the_same_page_as_before(client, agent, customer_a):
    with time_machine.travel(MONDAY_13_UTC, tick=False):
        ticket = make_ticket(customer_a)
    html = page(client, agent, "agent:ticket", ticket.pk)
    assert "7 Dec 2026, 13:00" in html  # UTC: the agent chose no zone
    assert "Dezember" not in html


def test_the_queue_counts_are_grouped_in_german_and_in_english(client, agentin, agent,
                                                               customer_a, l1):
    open_tickets(customer_a, 1234, l1)
    assert ">1.234<" in page(client, agentin, "agent:queue", "teams")
    assert ">1,234<" in page(client, agent, "agent:queue", "teams")


def test_a_german_manager_reads_grouped_figures_on_the_metrics(client, customer_a, l1):
    open_tickets(customer_a, 1234, l1)
    leiterin = make_user(Role.MANAGER, username="lena", language="de",
                         time_zone="Europe/Berlin")
    client.force_login(leiterin)
    with time_machine.travel(MONDAY_13_UTC + dt.timedelta(hours=1), tick=False):
        html = client.get(reverse("metrics:manager"),
                          {"start": "2026-12-07", "end": "2026-12-07"}).content.decode()
    assert ">1.234<" in html


def test_a_german_customer_reads_german_dates_on_the_portal(client, kunde):
    with time_machine.travel(MONDAY_13_UTC, tick=False):
        ticket = make_ticket(kunde, subject="Export schlägt fehl")
    html = page(client, kunde, "portal:ticket", ticket.pk)
    assert "7. Dezember 2026, 14:00" in html
    listing = page(client, kunde, "portal:tickets")
    assert "7. Dezember 2026" in listing


def test_new_york_reads_the_same_instant_six_hours_earlier_than_berlin(client, l1,
                                                                       customer_a):
    with time_machine.travel(MONDAY_13_UTC, tick=False):
        ticket = make_ticket(customer_a)
    berlin = make_user(Role.AGENT, teams=(l1,), time_zone="Europe/Berlin")
    new_york = make_user(Role.AGENT, teams=(l1,), time_zone="America/New_York")
    in_berlin = page(client, berlin, "agent:ticket", ticket.pk)
    in_new_york = page(client, new_york, "agent:ticket", ticket.pk)
    assert "7 Dec 2026, 14:00" in in_berlin and "7 Dec 2026, 08:00" not in in_berlin
    assert "7 Dec 2026, 08:00" in in_new_york and "7 Dec 2026, 14:00" not in in_new_york
    assert 'datetime="2026-12-07T08:00:00-05:00"' in in_new_york


def test_the_customer_notice_gives_the_date_in_her_language_and_zone(kunde,
                                                                      django_capture_on_commit_callbacks):
    Mailbox.objects.create(name="support", address="support@helpdesk.test", imap_host="")
    with time_machine.travel(MONDAY_13_UTC, tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        make_ticket(kunde, subject="Export schlägt fehl")
    [notice] = [m for m in mail.outbox if m.to == [kunde.email]]
    # "Wir möchten bis <Wochentag>, <Tag>. <Monat> <Jahr>, <Zeit> (Europe/Berlin) antworten."
    assert "Dezember 2026, " in notice.body and "(Europe/Berlin)" in notice.body
    assert "December" not in notice.body

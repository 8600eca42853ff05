"""Imported clocks that wait: levels passed before the import stay silent too."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from helpdesk.models import Notification
from importers.clocks import SILENT, silence_past_levels
from sla.escalation import fire_due_levels
from sla.models import Clock, ClockEvent, ClockLevelFire
from tickets import services

pytestmark = pytest.mark.django_db

T = datetime(2026, 3, 2, 9, tzinfo=UTC)  # a Monday
H = timedelta(hours=1)


def test_a_paused_clock_owes_no_notification_for_levels_passed_before_the_import(
        customer_a, agent, manager, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    with time_machine.travel(T, tick=False), capture(execute=True):
        ticket = services.create_ticket(requester=customer_a, subject="Export fails",
                                        description="It stops.", priority=2)
    # Enterprise P2: first response in 30 min. It waited from 12:00, never answered.
    with time_machine.travel(T + 3 * H, tick=False), capture(execute=True):
        services.transition(ticket, "waiting_on_customer", actor=agent, reason="Logs?")
    first = Clock.objects.get(ticket=ticket, metric="first_response")
    assert (first.state, first.breached_at, first.next_level_at) == (
        "paused", T + 30 * timedelta(minutes=1), T + 3 * H)  # its passed levels are due
    silence_past_levels([ticket.pk], now=T + 4 * H)
    assert sorted(ClockLevelFire.objects.filter(clock=first).values_list(
        "percent", flat=True)) == [50, 80, 90, 100, 200]
    assert ClockEvent.objects.filter(clock=first, kind="level",
                                     reason__contains=SILENT).count() == 5
    with time_machine.travel(T + 4 * H, tick=False), capture(execute=True):
        fire_due_levels()
    assert not Notification.objects.filter(source__startswith="sla").exists()


def test_imported_clocks_are_started_in_bulk_as_one_by_one_re_evaluations_start_them():
    """The importer starts clocks in batches; a ticket gets the same clocks, pauses, audit
    events, silenced levels and SLA columns as `reevaluate` and the silencing of past
    levels give it ticket by ticket (tests/sla/test_bulk_start.py has the varied set)."""
    from importers import clocks
    from sla.models import Policy
    from tests.sla.test_bulk_start import NOW, assert_same, both_ways, varied_tickets

    ids = varied_tickets(Policy.objects.get(name="Standard support"))
    expected, got = both_ways(
        ids, lambda ids: clocks.start(ids, now=NOW, reason="imported"),
        lambda ids: clocks.start_one_by_one(ids, now=NOW, reason="imported"))
    assert len(expected["fires"]) > 100
    assert {f[1] for f in expected["fires"]} == {50, 80, 90, 100, 200}
    assert sum(1 for e in expected["events"] if e[1] == "level") == len(expected["fires"])
    assert {level for _, _, level in expected["tickets"]} >= {"yellow", "breach", "severe"}
    assert_same(expected, got)

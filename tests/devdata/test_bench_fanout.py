"""The batch write scenarios of `manage.py bench` run on a small database and report
what they did (the figures themselves are for a seeded million-ticket database)."""
from __future__ import annotations

import io

from django.core.management import call_command

from devdata import bench_fanout
from helpdesk.models import User
from incidents.models import IncidentTicket, UpdateDelivery
from tickets.models import Ticket
from tickets.state_machine import Status


def test_batch_scenarios_change_the_tickets_they_report(db):
    call_command("demo", tickets=40, stdout=io.StringIO())
    open_ = Ticket.objects.filter(merged_into__isnull=True).order_by("-pk")[:12]
    Ticket.objects.filter(pk__in=list(open_.values_list("pk", flat=True))).update(
        status=Status.IN_PROGRESS)
    update, resolution = bench_fanout.incident_fan_out(tickets=5)
    assert update.note.startswith("5 replies, 0 skipped") and update.queries > 0
    assert resolution.note == "5 tickets moved to resolved"
    bench = {"incident__title__startswith": bench_fanout.BENCH_INCIDENT}
    assert UpdateDelivery.objects.filter(
        skipped="", update__incident__title__startswith=bench_fanout.BENCH_INCIDENT
    ).count() == 10  # the update and the resolution
    assert IncidentTicket.objects.filter(cascade_outcome="moved", **bench).count() == 5
    # A second run takes other tickets.
    again, _ = bench_fanout.incident_fan_out(tickets=2)
    assert IncidentTicket.objects.filter(**bench).values("ticket_id").distinct().count() == 7
    assert again.note.startswith("2 replies")
    # And says so when the database has too few open tickets left.
    [short] = bench_fanout.incident_fan_out(tickets=1_000)
    assert short.note.startswith("n/a (only ")
    manager = User.objects.get(username="manager")
    assign, status = bench_fanout.bulk_updates(manager, tickets=3)
    assert assign.note.startswith("3 tickets changed") and assign.queries > 0
    assert status.label == "bulk update 3 tickets (status)"

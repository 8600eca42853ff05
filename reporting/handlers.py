"""Changes the metrics rollup cannot find by its own scan of recent rows: a time entry
edited or deleted, a reply or a whole ticket deleted. Each marks the resolution hour of its ticket
stale (`MetricsStaleHour`), and the next `rollups.sync` recomputes it.

`connect()` is called from ReportingConfig.ready(); tickets never imports reporting.
"""
from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from tickets.models import Message, Ticket, TimeEntry

from .models import MetricsStaleHour
from .rollups import floor_hour


def mark_ticket_stale(ticket_id: int) -> None:
    """Mark the hour its resolution is counted in (nothing while it is unresolved: an open
    ticket's figures are in its creation hour, which `sync` finds by `updated_at`)."""
    resolved = Ticket.objects.filter(pk=ticket_id).values_list("resolved_at", flat=True).first()
    if resolved is not None:
        MetricsStaleHour.objects.bulk_create(
            [MetricsStaleHour(hour=floor_hour(resolved), marked_at=timezone.now())],
            ignore_conflicts=True)


def on_time_entry_saved(sender: Any, instance: TimeEntry, created: bool, **kwargs: Any
                        ) -> None:
    # A new entry starts now: `sync` finds it by `started_at`. An edit (a timer stopped,
    # minutes corrected) keeps its old start.
    if not created and not kwargs.get("raw"):
        mark_ticket_stale(instance.ticket_id)


def on_deleted(sender: Any, instance: TimeEntry | Message, **kwargs: Any) -> None:
    mark_ticket_stale(instance.ticket_id)


def on_ticket_deleted(sender: Any, instance: Ticket, **kwargs: Any) -> None:
    hours = [h for h in (instance.created_at, instance.resolved_at) if h is not None]
    MetricsStaleHour.objects.bulk_create(
        [MetricsStaleHour(hour=floor_hour(h), marked_at=timezone.now()) for h in hours],
        ignore_conflicts=True)


def connect() -> None:
    post_save.connect(on_time_entry_saved, sender=TimeEntry,
                      dispatch_uid="reporting.stale.time_entry_saved")
    post_delete.connect(on_deleted, sender=TimeEntry,
                        dispatch_uid="reporting.stale.time_entry_deleted")
    post_delete.connect(on_deleted, sender=Message,
                        dispatch_uid="reporting.stale.message_deleted")
    post_delete.connect(on_ticket_deleted, sender=Ticket,
                        dispatch_uid="reporting.stale.ticket_deleted")

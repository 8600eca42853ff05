"""Changes the capacity rollup cannot find by its own scan of changed tickets: a time
entry logged, edited or deleted (time entries have no `updated_at`, and a ticket is not
touched by them), a ticket deleted. Each marks its ticket's opening day stale
(`CapacityStaleDay`); the next `rollup.sync` recomputes it.

`connect()` is called from WorkforceConfig.ready(); tickets never imports workforce.
"""
from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save

from tickets.models import Ticket, TimeEntry

from . import rollup


def on_time_entry_changed(sender: Any, instance: TimeEntry, **kwargs: Any) -> None:
    if kwargs.get("raw"):  # fixtures: the rollup is rebuilt after a load
        return
    created = Ticket.objects.filter(pk=instance.ticket_id).values_list("created_at", flat=True)
    rollup.mark_days(list(created))


def on_ticket_deleted(sender: Any, instance: Ticket, **kwargs: Any) -> None:
    rollup.mark_days([instance.created_at])


def connect() -> None:
    post_save.connect(on_time_entry_changed, sender=TimeEntry,
                      dispatch_uid="workforce.capacity.time_entry_saved")
    post_delete.connect(on_time_entry_changed, sender=TimeEntry,
                        dispatch_uid="workforce.capacity.time_entry_deleted")
    post_delete.connect(on_ticket_deleted, sender=Ticket,
                        dispatch_uid="workforce.capacity.ticket_deleted")

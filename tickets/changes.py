"""The incremental export: ticket changes in an order a sync job can resume from exactly.

Database triggers write one `TicketChange` row per change to a ticket row (migration
`ticket_change_log`). Ordering them by an auto-increment id or by `updated_at` would lose
changes: a transaction that took id 7 may commit after another took id 8 and was already
read past. On PostgreSQL each row carries its transaction's id (xid8), and the reader only
returns rows of transactions older than the oldest one still running (the snapshot's
xmin): those are all finished, and no transaction started later can get an older id. So
reading in (xid, id) order from a cursor never skips a late commit and never repeats a
row. A long transaction holds the stream back (lag), it never loses a change. On SQLite
one writer at a time makes the autoincrement id the commit order (xid is 0 there).
"""
from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.db.models import Max, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from helpdesk.keyset import RowAfter

from .models import TicketChange

# The PostgreSQL triggers of migration `ticket_change_log` (a bulk loader that switches
# triggers off must know it leaves these out).
CHANGE_LOG_TRIGGERS = ("tickets_ticket_change_insert_delete", "tickets_ticket_change_update")

Position = tuple[int, int]  # (xid, id) of the last change read
START: Position = (0, 0)

_XMIN = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
# The reading transaction's own changes are visible to it (a test that writes and reads
# in one transaction); an API request writes nothing, so it has no id of its own.
_OWN_XID = "pg_current_xact_id_if_assigned()::text::bigint"


def read_changes(after: Position | None, *, limit: int) -> tuple[list[TicketChange],
                                                                   Position, bool]:
    """(up to `limit` changes after `after`, the position to resume from, whether that
    was the end of what can be read now). One query."""
    qs = TicketChange.objects.order_by("xid", "id")
    if connection.vendor == "postgresql":
        # Constant SQL, no parameters: nothing of the request reaches it.
        qs = qs.filter(Q(xid__lt=RawSQL(_XMIN, [])) | Q(xid=RawSQL(_OWN_XID, [])))  # noqa: S611
    if after is not None:
        fields = [TicketChange._meta.get_field("xid"), TicketChange._meta.get_field("id")]
        qs = qs.filter(RowAfter(["xid", "id"], list(after), fields))
    rows = list(qs[:limit + 1])
    end = len(rows) <= limit
    rows = rows[:limit]
    position = (rows[-1].xid, rows[-1].id) if rows else (after or START)
    return rows, position, end


def current_position() -> Position:
    """A position at "now": reading from it returns only changes made from now on (and
    those still being written now). Where an initial full sync starts following."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {_XMIN}, {_OWN_XID}")  # noqa: S608 - constants
            xmin, own = cursor.fetchone()
        if own is not None:  # after the reader's own changes (see _OWN_XID)
            last = TicketChange.objects.filter(xid=own).aggregate(last=Max("id"))["last"]
            return (int(own), last or 0)
        return (int(xmin), 0)
    last = TicketChange.objects.aggregate(last=Max("id"))["last"]
    return (0, last or 0)


def prune(*, days: int, batch: int = 10_000) -> int:
    """Delete changes older than `days`, in batches (one short lock each); how many."""
    cutoff = timezone.now() - timedelta(days=days)
    deleted = 0
    while True:
        ids = list(TicketChange.objects.filter(changed_at__lt=cutoff)
                   .order_by("changed_at").values_list("pk", flat=True)[:batch])
        if not ids:
            return deleted
        deleted += TicketChange.objects.filter(pk__in=ids).delete()[0]
        if len(ids) < batch:
            return deleted


def reinstall_sqlite_triggers(using: str = "default", **kwargs: object) -> None:
    """Put the change-log triggers back on SQLite after `migrate`.

    SQLite cannot alter a column in place, so Django rebuilds the tickets table for such
    a migration (e.g. an index change on `created_at`) and the rebuild drops the table's
    triggers: without this, later tickets would silently stop reaching the export.
    PostgreSQL alters in place and keeps them.
    """
    from importlib import import_module

    from django.db import connections

    conn = connections[using]
    if conn.vendor != "sqlite":
        return
    tables = conn.introspection.table_names()
    if "tickets_ticketchange" not in tables or "tickets_ticket" not in tables:
        return
    sql = import_module("tickets.migrations.0015_ticket_change_log").SQLITE_TRIGGERS
    with conn.cursor() as cursor:
        for statement in sql:
            cursor.execute(statement.replace("CREATE TRIGGER", "CREATE TRIGGER IF NOT EXISTS", 1))

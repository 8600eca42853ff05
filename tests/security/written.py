"""What a request wrote: the database's own count of rows inserted, updated or deleted."""
from __future__ import annotations

from django.db import connection


def rows_written() -> int:
    """Rows inserted, updated or deleted so far by this connection (SQLite) or this
    transaction (PostgreSQL): a test's requests share both."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT total_changes()")
        else:
            cursor.execute("SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) "
                           "FROM pg_stat_xact_all_tables")
        return int(cursor.fetchone()[0])

"""Bulk loading of rows (COPY on PostgreSQL, executemany elsewhere) with ids assigned by
the caller: used by the development-data generators, the importers and the SLA bulk
services, which would take hours through the ORM one row at a time."""
from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.models import Max
from django.utils.duration import duration_microseconds


class BulkLoadError(Exception):
    """A row cannot be written as asked (unknown column, migration not applied...)."""


class RowWriter:
    """Append rows (tuples in a fixed column order) to a model's table, fast.

    PostgreSQL: COPY ... FROM STDIN through psycopg 3. Elsewhere: executemany.
    Non-null columns the caller leaves out get the field's default, so a column
    another app adds later (with a default) does not break seeding.
    """

    def __init__(self, using: str = DEFAULT_DB_ALIAS) -> None:
        self.using = using
        self.postgres = connections[using].vendor == "postgresql"
        self._plans: dict[tuple, tuple[str, tuple, list[int]]] = {}
        self.seconds: dict[str, float] = {}  # time spent writing, per table
        self._columns: dict[str, set[str]] = {}

    @property
    def connection(self):
        """This thread's connection (Django connections are per thread)."""
        return connections[self.using]

    def can_skip_fk_checks(self, models_: Sequence[type[models.Model]],
                           ignore_triggers: Sequence[str] = ()) -> bool:
        """True when this role may load with triggers off and no table has a trigger of
        its own (only the foreign-key checks, which the generator satisfies, are skipped),
        apart from `ignore_triggers`, which the caller accepts to go without."""
        if not self.postgres:
            return False
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            row = cursor.fetchone()
            if not row or not row[0]:
                return False
            cursor.execute(
                "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal"
                " AND tgrelid::regclass::text = ANY(%s) AND NOT tgname = ANY(%s)",
                [[m._meta.db_table for m in models_], list(ignore_triggers)])
            return cursor.fetchone()[0] == 0

    def _db_columns(self, table: str) -> set[str]:
        if table not in self._columns:
            conn = self.connection
            with conn.cursor() as cursor:
                self._columns[table] = {
                    c.name for c in conn.introspection.get_table_description(cursor, table)}
        return self._columns[table]

    def _plan(self, model: type[models.Model], columns: tuple[str, ...]):
        key = (model, columns)
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        opts = model._meta
        by_column = {f.column: f for f in opts.concrete_fields}
        unknown = [c for c in columns if c not in by_column]
        if unknown:
            raise BulkLoadError(f"{opts.db_table} has no column(s) {unknown}")
        missing = [c for c in columns if c not in self._db_columns(opts.db_table)]
        if missing:
            raise BulkLoadError(f"{opts.db_table} has no column(s) {missing} in the database: "
                            "run `manage.py migrate`.")
        extra_cols: list[str] = []
        extra_vals: list[Any] = []
        for column, f in by_column.items():
            if column in columns or f.primary_key or f.null:
                continue
            if column not in self._db_columns(opts.db_table):
                continue  # a field whose migration is not applied here
            if f.db_default is not models.NOT_PROVIDED:
                continue  # the database fills it
            if f.has_default():
                value = f.get_default()
            elif isinstance(f, models.CharField | models.TextField | models.FileField):
                value = ""
            else:
                raise BulkLoadError(f"Seeding cannot fill {opts.db_table}.{column}; "
                                "give the writer a value for it.")
            extra_cols.append(column)
            extra_vals.append(f.get_db_prep_save(value, self.connection))
        qn = self.connection.ops.quote_name
        names = ", ".join(qn(c) for c in (*columns, *extra_cols))
        table = qn(opts.db_table)
        if self.postgres:
            sql = f"COPY {table} ({names}) FROM STDIN"
            datetimes: list[int] = []
        else:
            marks = ", ".join(["%s"] * (len(columns) + len(extra_cols)))
            # Identifiers from model metadata, quoted; values are parameters.
            sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608
            datetimes = [i for i, c in enumerate(columns)
                         if isinstance(by_column[c], models.DateTimeField | models.DurationField
                                    | models.UUIDField)]
        plan = (sql, tuple(extra_vals), datetimes)
        self._plans[key] = plan
        return plan

    def write(self, model: type[models.Model], columns: tuple[str, ...],
              rows: Sequence[tuple]) -> int:
        if not rows:
            return 0
        started = time.perf_counter()
        try:
            return self._write(model, columns, rows)
        finally:
            table = model._meta.db_table
            self.seconds[table] = self.seconds.get(table, 0.0) + time.perf_counter() - started

    def _adapt(self, value: Any) -> Any:
        """A datetime, duration or UUID as the database stores it (COPY adapts them itself)."""
        if isinstance(value, timedelta):
            return duration_microseconds(value)
        if isinstance(value, uuid.UUID):
            return value.hex
        return self.connection.ops.adapt_datetimefield_value(value)

    def _write(self, model: type[models.Model], columns: tuple[str, ...],
               rows: Sequence[tuple]) -> int:
        sql, extra, datetimes = self._plan(model, columns)
        with self.connection.cursor() as cursor:
            if self.postgres:
                with cursor.cursor.copy(sql) as copy:
                    write_row = copy.write_row
                    if extra:
                        for row in rows:
                            write_row(row + extra)
                    else:
                        for row in rows:
                            write_row(row)
            else:
                if datetimes or extra:
                    adapt = self._adapt
                    converted = []
                    for row in rows:
                        row = list(row)
                        for i in datetimes:
                            if row[i] is not None:
                                row[i] = adapt(row[i])
                        converted.append(tuple(row) + extra)
                    rows = converted
                cursor.executemany(sql, rows)
        return len(rows)

    # ids ------------------------------------------------------------------------------

    def _sequence(self, table: str) -> str | None:
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            row = cursor.fetchone()
        return row[0] if row else None

    def reserve_ids(self, model: type[models.Model], count: int) -> int:
        """First id of a block of `count` ids nobody else will be given."""
        top = model._default_manager.using(self.connection.alias).aggregate(
            m=Max("pk"))["m"] or 0
        if self.postgres and count > 0:
            seq = self._sequence(model._meta.db_table)
            if seq:
                with self.connection.cursor() as cursor:
                    # seq comes from pg_get_serial_sequence, already quoted
                    cursor.execute(f"SELECT last_value, is_called FROM {seq}")  # noqa: S608
                    last, called = cursor.fetchone()
                    top = max(top, last if called else last - 1)
                    cursor.execute("SELECT setval(%s, %s)", [seq, top + count])
        return top + 1

    def reset_sequence(self, model: type[models.Model]) -> None:
        if not self.postgres:
            return  # SQLite's AUTOINCREMENT follows explicit ids by itself
        table = model._meta.db_table
        seq = self._sequence(table)
        if not seq:
            return
        qn = self.connection.ops.quote_name
        with self.connection.cursor() as cursor:
            sql = (f"SELECT setval(%s, GREATEST((SELECT COALESCE(MAX(id), 0) FROM {qn(table)}),"  # noqa: S608
                   f" (SELECT last_value FROM {seq}), 1))")
            cursor.execute(sql, [seq])

    # secondary indexes -------------------------------------------------------------

    def drop_secondary_indexes(self, model: type[models.Model]) -> list[tuple[str, str]]:
        """Drop the table's plain (non-unique) indexes; returns (name, definition) of each,
        for `create_indexes` after the load. Building an index once over sorted data is far
        cheaper than maintaining it row by row, and a table with twenty indexes outgrows
        the buffer cache long before its rows do. Unique indexes and constraints stay, so
        the load still cannot write a duplicate."""
        if not self.postgres:
            return []
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x"
                " JOIN pg_class i ON i.oid = x.indexrelid"
                " WHERE x.indrelid = %s::regclass AND NOT x.indisunique"
                " AND NOT x.indisprimary AND x.indisvalid"
                " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)"
                " ORDER BY i.relname",
                [model._meta.db_table])
            dropped = cursor.fetchall()
            qn = self.connection.ops.quote_name
            for name, _ in dropped:
                cursor.execute(f"DROP INDEX IF EXISTS {qn(name)}")
        return dropped

    def create_indexes(self, definitions: Sequence[str]) -> None:
        """Build indexes dropped by `drop_secondary_indexes` (definitions from
        pg_get_indexdef, so they are recreated exactly as they were)."""
        if not self.postgres or not definitions:
            return
        with self.connection.cursor() as cursor:
            # Sorting in memory instead of on disk; this session only.
            cursor.execute("SET maintenance_work_mem TO '512MB'")
            for definition in definitions:
                cursor.execute(definition)

    def analyze(self, models_: Sequence[type[models.Model]]) -> None:
        if not self.postgres:
            return
        qn = self.connection.ops.quote_name
        tables = ", ".join(qn(m._meta.db_table) for m in models_)
        with self.connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {tables}")

    def vacuum_analyze(self) -> None:
        """VACUUM ANALYZE the whole database (outside any transaction): a freshly loaded
        table has no visibility map until autovacuum comes by, so every index-only scan
        (the dashboards' counts) still reads the heap; and the planner gets statistics of
        every table written, the rollups included."""
        if not self.postgres:
            return
        with self.connection.cursor() as cursor:
            # Inside a transaction (a test's) VACUUM cannot run: statistics only.
            cursor.execute("ANALYZE" if self.connection.in_atomic_block else "VACUUM (ANALYZE)")


def update_rows(model: type[models.Model], fields: Sequence[str],
                rows: Sequence[tuple], *, using: str = DEFAULT_DB_ALIAS,
                only_changed: bool = False) -> None:
    """Write `fields` (attnames: `policy_id`, not `policy`) of many rows in one statement;
    each row is a tuple: the pk, then the values in `fields` order.

    QuerySet.bulk_update builds a CASE expression per row and field, which costs far more
    than the SQL. PostgreSQL: one UPDATE ... FROM (VALUES ...); elsewhere an executemany
    of single-row UPDATEs (SQLite runs in process: no round trips). Values are prepared
    as the ORM saves them (durations, datetimes, JSON). `only_changed` leaves alone the
    rows that already hold the values (no new row version, no index or trigger work).
    """
    if not rows:
        return
    conn = connections[using]
    qn = conn.ops.quote_name
    opts = model._meta
    by_attname = {f.attname: f for f in opts.concrete_fields}
    cols = [by_attname[name] for name in fields]
    table, pk = qn(opts.db_table), qn(opts.pk.column)
    prepared = [(row[0], *(f.get_db_prep_save(v, conn) for f, v in zip(cols, row[1:],
                                                                       strict=True)))
                for row in rows]
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            types = [opts.pk.rel_db_type(conn)] + [f.cast_db_type(conn) for f in cols]
            row_sql = "(" + ", ".join(f"%s::{t}" for t in types) + ")"
            names = ", ".join(["id", *(f"v{i}" for i in range(len(cols)))])
            assignments = ", ".join(f"{qn(f.column)} = v.v{i}" for i, f in enumerate(cols))
            changed = " OR ".join(f"{table}.{qn(f.column)} IS DISTINCT FROM v.v{i}"
                                  for i, f in enumerate(cols))
            sql = (f"UPDATE {table} SET {assignments} "  # noqa: S608 - our identifiers
                   f"FROM (VALUES {', '.join([row_sql] * len(prepared))}) AS v({names}) "
                   f"WHERE {table}.{pk} = v.id" + (f" AND ({changed})" if only_changed
                                                   else ""))
            cursor.execute(sql, [v for row in prepared for v in row])
        else:
            assignments = ", ".join(f"{qn(f.column)} = %s" for f in cols)
            changed = " OR ".join(f"{qn(f.column)} IS NOT %s" for f in cols)
            sql = (f"UPDATE {table} SET {assignments} WHERE {pk} = %s"  # noqa: S608
                   + (f" AND ({changed})" if only_changed else ""))
            cursor.executemany(sql, [(*row[1:], row[0], *(row[1:] if only_changed else ()))
                                     for row in prepared])

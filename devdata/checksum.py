"""A digest of the rows a seeding run wrote, per table: the proof that the same `--seed`
(and `--now`) gives the same data, and that a faster generator still writes what the
slower one did.

Rows are compared by content, ordered by id. Ids themselves may differ between two runs
on one database (PostgreSQL sequences do not roll back), so every id and foreign key to
a row the run wrote is taken relative to the first id the run wrote in that table; keys
to rows that existed before (teams, categories, calendars) are kept as they are.

    marks = table_marks()      # before the run
    seed(...)
    digests = table_digests(marks)
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.apps import apps
from django.db import DEFAULT_DB_ALIAS, models
from django.db.models import Max, Min

# Values a run draws from the clock or the operating system rather than the seed.
VOLATILE = {
    "helpdesk_user": {"password", "date_joined", "last_login"},
    "tickets_metricshour": {"computed_at"},
}


# Tables the database writes itself (triggers), with its own clock and transaction ids.
NOT_SEEDED = {"tickets_ticketchange"}


def _models() -> Iterable[type[models.Model]]:
    for model in apps.get_models(include_auto_created=True):
        opts = model._meta
        if opts.db_table in NOT_SEEDED:
            continue
        if opts.managed and not opts.proxy and opts.pk is not None and isinstance(
                opts.pk, models.AutoField | models.BigAutoField):
            yield model


def table_marks(using: str = DEFAULT_DB_ALIAS) -> dict[str, int]:
    """The highest id of every table now: rows above it are the next run's."""
    return {model._meta.db_table: model._default_manager.using(using).aggregate(
        m=Max("pk"))["m"] or 0 for model in _models()}


def table_digests(marks: dict[str, int], using: str = DEFAULT_DB_ALIAS,
                  ) -> dict[str, tuple[int, str]]:
    """(rows, SHA-256) of the rows written since `marks`, per table that has any."""
    new = list(_models())
    firsts: dict[str, int] = {}
    for model in new:
        table = model._meta.db_table
        first = model._default_manager.using(using).filter(
            pk__gt=marks.get(table, 0)).aggregate(m=Min("pk"))["m"]
        if first is not None:
            firsts[table] = first
    out: dict[str, tuple[int, str]] = {}
    for model in new:
        table = model._meta.db_table
        if table not in firsts:
            continue
        skip = VOLATILE.get(table, set())
        fields = [f for f in model._meta.concrete_fields if f.column not in skip]
        rebase: list[int | None] = []  # per field: first id of the table it points into
        for f in fields:
            if f.primary_key:
                rebase.append(firsts[table])
            elif f.is_relation and f.related_model is not None:
                target = f.related_model._meta.db_table
                rebase.append(firsts.get(target))
            else:
                rebase.append(None)
        digest = hashlib.sha256()
        count = 0
        rows = (model._default_manager.using(using).filter(pk__gte=firsts[table])
                .order_by("pk").values_list(*(f.attname for f in fields)))
        for row in rows.iterator(chunk_size=5000):
            values = []
            for value, base in zip(row, rebase, strict=True):
                if base is not None and isinstance(value, int):
                    value = ("new", value - base) if value >= base else ("old", value)
                values.append(value)
            digest.update(repr(values).encode())
            count += 1
        out[table] = (count, digest.hexdigest())
    return out

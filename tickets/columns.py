"""The columns of the agent queue: one registry, so other features add theirs.

A column is shown when the agent chose it (or, before any choice, when it is a default).
`sort` is the ORM ordering of a sortable column; only indexed, cheap orderings are offered
(the queue indexes end in sla_due_at, priority, created_at, id). A column that needs data
beyond the row's own fields fills it for the whole page at once in `prepare(rows)`
(never a query per row); `value(row)` then gives the cell's text, or `template` names a
Jinja2 template rendered with `t` (the row) for richer cells.

    columns.register(Column("cf_plan", _("Plan"), value=lambda t: t.cf_plan, default=False,
                            prepare=load_plan_values, order=200))
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Column:
    key: str
    label: Any  # str or a lazy translation
    sort: str | None = None
    default: bool = True
    order: int = 100
    value: Callable[[Any], Any] | None = None
    template: str | None = None
    prepare: Callable[[Sequence[Any]], None] | None = None
    # The built-in columns are drawn by tickets/agent/_queue_rows.html itself.
    builtin: bool = False


_registry: dict[str, Column] = {}


def register(column: Column) -> None:
    _registry[column.key] = column


def unregister(key: str) -> None:
    _registry.pop(key, None)


def all_columns() -> list[Column]:
    return sorted(_registry.values(), key=lambda c: (c.order, c.key))


def chosen(keys: Iterable[str] | None) -> list[Column]:
    """The columns an agent chose, in the registry's order; the defaults without a
    choice. The subject is always shown: it is the row's link."""
    wanted = set(keys) if keys else None
    return [c for c in all_columns()
            if c.key == "subject" or (c.key in wanted if wanted is not None else c.default)]


def sort_options() -> dict[str, str]:
    return {c.key: c.sort for c in all_columns() if c.sort}


def ordering(sort: str) -> list[str] | None:
    """The ORM ordering for `?sort=key` or `?sort=-key`; None for the queue's own order."""
    descending = sort.startswith("-")
    field = sort_options().get(sort.lstrip("-"))
    if not field:
        return None
    return [f"-{field}" if descending else field, "-id" if descending else "id"]


def prepare(columns: Sequence[Column], rows: Sequence[Any]) -> None:
    for column in columns:
        if column.prepare is not None:
            column.prepare(rows)


for _column in (
    Column("number", _("#"), sort="id", order=10, builtin=True),
    Column("subject", _("Subject"), order=20, builtin=True),
    Column("requester", _("Requester"), order=30, builtin=True),
    Column("priority", _("Priority"), sort="priority", order=40, builtin=True),
    Column("status", _("Status"), order=50, builtin=True),
    Column("team", _("Team"), order=60, builtin=True),
    Column("assignee", _("Assignee"), order=70, builtin=True),
    Column("sla", _("SLA due"), sort="sla_due_at", order=80, builtin=True),
    Column("age", _("Age"), sort="created_at", order=90, builtin=True),
):
    register(_column)

"""The columns of the agent queue: one registry, so other features add theirs.

A column is shown when the agent chose it (or, before any choice, when it is a default).
`sort` is the ORM ordering of a sortable column; only indexed, cheap orderings are offered
(the queue indexes end in sla_due_at, priority, created_at, id). A column that needs data
beyond the row's own fields names the ticket fields it reads in `fields` (loaded only
while it is shown) and fills the rest for the whole page at once in
`prepare(rows, columns)` (never a query per row; called once per hook with the shown
columns that share it); `value(row)` then gives the cell's text, or `template` names a
Jinja2 template rendered with `t` (the row) for richer cells.

    columns.register(Column("plan", _("Plan"), value=lambda t: t.plan, default=False,
                            prepare=load_plans, order=200))

Columns that exist only at run time come from a source (`register_source`): each custom
field an admin shows in the queues is one (`cf_<key>`), so there is one column mechanism.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

from . import custom_fields as cf
from . import field_definitions


@dataclass(frozen=True)
class Column:
    key: str
    label: Any  # str or a lazy translation
    sort: str | None = None
    default: bool = True
    order: int = 100
    value: Callable[[Any], Any] | None = None
    template: str | None = None
    prepare: Callable[[Sequence[Any], Sequence[Column]], None] | None = None
    # Ticket fields the column reads beyond the queue row's (selectors.ROW_FIELDS).
    fields: tuple[str, ...] = ()
    # The built-in columns are drawn by tickets/agent/_queue_rows.html itself.
    builtin: bool = False


_registry: dict[str, Column] = {}
_sources: list[Callable[[], Iterable[Column]]] = []


def register(column: Column) -> None:
    _registry[column.key] = column


def unregister(key: str) -> None:
    _registry.pop(key, None)


def register_source(source: Callable[[], Iterable[Column]]) -> None:
    """Columns computed per request (from configuration the source caches itself); a
    registered column of the same key wins."""
    if source not in _sources:
        _sources.append(source)


def all_columns() -> list[Column]:
    found = dict(_registry)
    for source in _sources:
        for column in source():
            found.setdefault(column.key, column)
    return sorted(found.values(), key=lambda c: (c.order, c.key))


def chosen(keys: Iterable[str] | None, available: Sequence[Column] | None = None
           ) -> list[Column]:
    """The columns an agent chose, in the registry's order; the defaults without a
    choice, or when nothing chosen exists any more. The subject is always shown: it is
    the row's link."""
    available = all_columns() if available is None else available
    wanted = set(keys or ()) & {c.key for c in available} - {"subject"}
    if not wanted:
        return [c for c in available if c.default or c.key == "subject"]
    return [c for c in available if c.key == "subject" or c.key in wanted]


def fields_of(columns: Sequence[Column]) -> list[str]:
    """The ticket fields the shown columns read beyond the queue row's."""
    return sorted({f for c in columns for f in c.fields})


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
    hooks: dict[Callable[..., None], list[Column]] = {}
    for column in columns:
        if column.prepare is not None:
            hooks.setdefault(column.prepare, []).append(column)
    for hook, shared in hooks.items():
        hook(rows, shared)


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


# --- custom fields ---------------------------------------------------------------------

CUSTOM_PREFIX = "cf_"  # the same name as the field's queue filter


def _prepare_custom(rows: Sequence[Any], shown: Sequence[Column]) -> None:
    """The texts of the shown custom-field columns for the whole page; the linked
    organizations' and users' names in two queries at most, whatever the columns."""
    by_key = field_definitions.by_key()
    fields = [by_key[c.key.removeprefix(CUSTOM_PREFIX)] for c in shown
              if c.key.removeprefix(CUSTOM_PREFIX) in by_key]
    names = field_definitions.link_names(
        (f.field_type, (t.custom_fields or {})[f.key]) for t in rows for f in fields
        if f.field_type in cf.LINKS and f.key in (t.custom_fields or {}))
    for t in rows:
        values = t.custom_fields or {}
        t.custom_cells = {f.key: cf.shown(f, values.get(f.key), names=names) for f in fields}


def _custom_cell(key: str) -> Callable[[Any], str]:
    return lambda t: t.custom_cells.get(key) or "—"


def custom_field_columns() -> list[Column]:
    """One column per active custom field an admin shows in the queues (shown by default,
    an agent may hide it), after the built-in ones, in the fields' order. Not sortable:
    the values live in one JSON column whose index serves filters, not orderings."""
    return [Column(f"{CUSTOM_PREFIX}{f.key}", f.label, order=1000 + f.order,
                   value=_custom_cell(f.key), prepare=_prepare_custom,
                   fields=("custom_fields",))
            for f in field_definitions.queue_columns()]


register_source(custom_field_columns)

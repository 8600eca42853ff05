"""Keyset ("cursor") pagination for API lists that grow without bound.

A page is "the rows after this one in the list's order", not "rows 24,975 to 25,000": the
database walks an index from the last row a client saw, so the 1,000th page costs what the
first does, nothing is counted, and a row added meanwhile neither repeats nor hides one.
The cursor is opaque to clients (base64 of the last row's sort key).

The order must be ascending on columns of the model (the primary key is added last if
missing, as a tie-breaker); the
first column may be nullable and is then sorted NULLS LAST (the tickets' SLA due time).
`?page=N` still gives the old numbered pages (with their estimated `count`) when a client
asks for it explicitly: see `KeysetPagination.legacy`.
"""
from __future__ import annotations

import base64
import binascii
import json
from collections import OrderedDict
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import (
    BooleanField,
    DateTimeField,
    F,
    Field,
    Func,
    OrderBy,
    QuerySet,
    Value,
    prefetch_related_objects,
)
from django.db.models.functions import Coalesce
from rest_framework import serializers
from rest_framework.pagination import BasePagination, PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param


class RowAfter(Func):
    """`(a, b, c) > (x, y, z)`: a row comparison, which PostgreSQL turns into the start of
    an index range scan (and SQLite understands since 3.15)."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, columns: list[str], values: list[Any], fields: list[Field]) -> None:
        self.width = len(columns)
        super().__init__(*[F(c) for c in columns],
                         *[Value(v, output_field=f) for v, f in zip(values, fields, strict=True)])

    def as_sql(self, compiler, connection, **extra) -> tuple[str, list]:
        sqls, params = [], []
        for expression in self.get_source_expressions():
            sql, sql_params = compiler.compile(expression)
            sqls.append(sql)
            params.extend(sql_params)
        left, right = ", ".join(sqls[:self.width]), ", ".join(sqls[self.width:])
        return f"({left}) > ({right})", params


def ordering_of(qs: QuerySet) -> list[str]:
    """The column names of `qs`'s order (explicit, else the model's), checked for keyset
    use: ascending, the primary key last."""
    names = []
    for item in qs.query.order_by or qs.model._meta.ordering:
        if isinstance(item, str):
            if item.startswith("-"):
                raise ValueError(f"Keyset pagination needs ascending order, not {item}")
            names.append(item)
        elif isinstance(item, OrderBy) and isinstance(item.expression, F) \
                and not item.descending:
            names.append(item.expression.name)
        else:
            raise ValueError(f"Keyset pagination cannot order by {item!r}")
    pk = qs.model._meta.pk.name
    names = [pk if n == "pk" else n for n in names]
    if pk not in names:
        names.append(pk)  # a tie-breaker, so that every row has one place
    elif names[-1] != pk:
        raise ValueError("Keyset pagination needs the primary key as the last sort column")
    return names


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps([_jsonable(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, fields: list[Field]) -> list[Any]:
    """The sort key a cursor holds, as Python values; a 400 if it is not one of ours."""
    invalid = serializers.ValidationError({"cursor": "Invalid cursor: pass the one from a "
                                                     "`next` link unchanged."})
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid from None
    if not isinstance(values, list) or len(values) != len(fields):
        raise invalid
    parsed = []
    for i, (value, field) in enumerate(zip(values, fields, strict=True)):
        if value is None and not (i == 0 and field.null):
            raise invalid
        if isinstance(value, bool | dict | list):
            raise invalid
        try:
            parsed.append(None if value is None else field.to_python(value))
        except (DjangoValidationError, TypeError, ValueError, OverflowError):
            raise invalid from None
        if isinstance(parsed[-1], int) and not -(2**63) <= parsed[-1] < 2**63:
            raise invalid
        if isinstance(parsed[-1], datetime) and parsed[-1].tzinfo is None:
            raise invalid
    return parsed


def keyset_page(qs: QuerySet, *, size: int, after: list[Any] | None, small: bool = False
                ) -> tuple[list[Any], list[Any] | None]:
    """(up to `size` rows of `qs` after the sort key `after`, the key of the last row if
    there are more). At most two queries: the second only on the page where a nullable
    first column passes from its values to its NULLs.

    `small`: `qs` is a few thousand rows at most (a customer's tickets): sort them rather
    than walk the index of the whole table's order looking for them. PostgreSQL would
    walk it (its estimate of how soon it finds 26 of them is optimistic: 20 ms for 1,200
    of 1,000,000 tickets, against 1.5 ms to fetch and sort them); a nullable first column
    is then ordered as COALESCE(column, the end of time), the same order as NULLS LAST in
    a form no index offers.
    """
    names = ordering_of(qs)
    meta = qs.model._meta
    fields = [meta.get_field(n) for n in names]
    nullable = fields[0].null
    if nullable and small and isinstance(fields[0], DateTimeField):
        first = Coalesce(names[0], Value(datetime.max.replace(tzinfo=UTC),
                                         output_field=fields[0])).asc()
    else:
        first = F(names[0]).asc(nulls_last=True) if nullable else F(names[0]).asc()
    qs = qs.order_by(first, *names[1:])
    if after is None:
        page = qs
    elif after[0] is None:  # already among the NULLs
        page = qs.filter(**{f"{names[0]}__isnull": True}).filter(
            RowAfter(names[1:], after[1:], fields[1:]))
    else:  # NULL > x is unknown, so the NULLs are left for the query below
        page = qs.filter(RowAfter(names, after, fields))
    # Rows first, then the prefetches once for the page (each queryset evaluated would
    # run them for its own rows, and the extra row fetched to see if there are more
    # needs none).
    lookups = qs._prefetch_related_lookups
    qs, page = qs.prefetch_related(None), page.prefetch_related(None)
    rows = list(page[:size + 1])
    if nullable and after is not None and after[0] is not None and len(rows) <= size:
        rows += list(qs.filter(**{f"{names[0]}__isnull": True})[:size + 1 - len(rows)])
    more = len(rows) > size
    rows = rows[:size]
    prefetch_related_objects(rows, *lookups)
    if not more:
        return rows, None
    last = rows[-1]
    return rows, [getattr(last, f.attname) for f in fields]


class KeysetPagination(BasePagination):
    """`?cursor=` pages of `page_size` (25; up to 100 with `?page_size=`), in the list's
    order, with a `next` link while there are more. No total: counting a million visible
    rows costs more than the page.

    Compatibility: a request that names `?page=` gets numbered pages as before
    (`count`, `next`, `previous`, `results`); deep pages there still cost what OFFSET
    costs, so integrations should move to `next` links.
    """

    page_size = 25
    max_page_size = 100
    page_size_query_param = "page_size"
    cursor_query_param = "cursor"
    page_query_param = "page"
    small = False  # a view sets it when the caller's rows are few (see keyset_page)

    legacy_class: type[PageNumberPagination] = PageNumberPagination

    def __init__(self) -> None:
        self.legacy = self.legacy_class()
        self.numbered = False
        self.next_key: list[Any] | None = None
        self.request: Request | None = None

    def paginate_queryset(self, queryset: QuerySet, request: Request, view=None) -> list:
        self.request = request
        if request.query_params.get(self.page_query_param) \
                and self.cursor_query_param not in request.query_params:
            self.numbered = True
            return self.legacy.paginate_queryset(queryset, request, view)
        size = self.legacy.get_page_size(request)
        raw = request.query_params.get(self.cursor_query_param)
        after = None
        if raw:
            meta = queryset.model._meta
            after = decode_cursor(raw, [meta.get_field(n) for n in ordering_of(queryset)])
        rows, self.next_key = keyset_page(queryset, size=size, after=after, small=self.small)
        return rows

    def get_next_link(self) -> str | None:
        if self.next_key is None:
            return None
        url = remove_query_param(self.request.build_absolute_uri(), self.page_query_param)
        return replace_query_param(url, self.cursor_query_param, encode_cursor(self.next_key))

    def get_paginated_response(self, data: list) -> Response:
        if self.numbered:
            return self.legacy.get_paginated_response(data)
        return Response(OrderedDict([("next", self.get_next_link()), ("results", data)]))

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["next", "results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri",
                         "description": "The next page; null on the last one."},
                "results": schema,
                "count": {"type": "integer", "description": "Only with `?page=`: the "
                          "number of results (estimated past 20,000)."},
                "previous": {"type": "string", "nullable": True, "format": "uri",
                             "description": "Only with `?page=`."},
            },
        }

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = [
            {"name": self.cursor_query_param, "required": False, "in": "query",
             "description": "Where the page starts: the opaque value of the `next` link. "
                            "Absent: the first page.",
             "schema": {"type": "string"}},
        ]
        for parameter in self.legacy.get_schema_operation_parameters(view):
            if parameter["name"] == self.page_query_param:
                parameter["description"] = (
                    "Deprecated: numbered pages with a `count`, as before cursors; slow "
                    "for deep pages. Ignored when `cursor` is given.")
                parameter["deprecated"] = True
            parameters.append(parameter)
        return parameters


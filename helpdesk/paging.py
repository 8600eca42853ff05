"""Paging that stays fast at millions of rows: admin change lists and API lists.

Django's admin counts the rows of every change list it shows (`COUNT(*)` for the
paginator, plus one of the whole table unless `show_full_result_count` is off). On
PostgreSQL a count reads every row: about a second per request at 1,000,000 tickets or
20,000,000 messages. `EstimatedCountPaginator` takes the planner's estimate instead once
it is large (the table's `pg_class.reltuples`, or the plan's row estimate of a filtered
list) and counts exactly only small results, where counting is cheap and the exact figure
matters.
"""
from __future__ import annotations

import json
from typing import Any

from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

# Below this many (estimated) rows the exact COUNT(*) is cheap: use it.
EXACT_COUNT_BELOW = 20_000


def table_estimate(qs: QuerySet) -> int | None:
    """The planner's row count of the queryset's table (unfiltered), or None."""
    conn = connections[qs.db]
    with conn.cursor() as cur:
        cur.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [qs.model._meta.db_table])
        row = cur.fetchone()
    # -1: never analysed; then only the exact count knows.
    return int(row[0]) if row and row[0] >= 0 else None


def plan_estimate(qs: QuerySet) -> int | None:
    """The planner's row estimate of a filtered queryset (EXPLAIN, nothing executed)."""
    plan = qs.order_by().explain(format="json")
    try:
        return int(json.loads(plan)[0]["Plan"]["Plan Rows"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def planner_estimate(qs: QuerySet) -> int | None:
    """PostgreSQL's estimate of the rows of `qs`; None elsewhere or when it has none."""
    if connections[qs.db].vendor != "postgresql":
        return None
    filtered = bool(qs.query.where) or qs.query.distinct or qs.query.combinator
    return plan_estimate(qs) if filtered else table_estimate(qs)


def count_rows(qs: QuerySet, *, exact_below: int = EXACT_COUNT_BELOW) -> tuple[int, bool]:
    """(rows of `qs`, whether that is an estimate): exact when small or not estimable."""
    estimate = planner_estimate(qs)
    if estimate is None or estimate < exact_below:
        return qs.count(), False
    return estimate, True


def estimated_count(qs: QuerySet, *, exact_below: int = EXACT_COUNT_BELOW) -> int:
    """Rows of `qs`: the exact count when small or off PostgreSQL, else the estimate."""
    return count_rows(qs, exact_below=exact_below)[0]



def _open_ended(number: Any) -> int:
    """A page number checked without an upper bound (the total is not known exactly)."""
    try:
        number = int(number)
    except (TypeError, ValueError) as exc:
        raise PageNotAnInteger("That page number is not an integer") from exc
    if number < 1:
        raise EmptyPage("That page number is less than 1")
    return number


# Rows per page of an admin change list over a big table: rendering a row costs more than
# reading it (about 1 ms of template work per row on this 2-core machine, 100 rows being
# most of the page), and at a million rows one searches or filters rather than pages.
BIG_LIST_PER_PAGE = 50


class EstimatedCountPaginator(Paginator):
    """A paginator whose count is estimated on big PostgreSQL tables (see above).

    Paging stays exact where it matters: whether there is a next page is decided by
    fetching one row past the page, never by the estimate, so walking the pages visits
    every row even when the estimate is low; a page past the real end is empty (404).
    """

    estimated = False  # set when `count` is computed

    @cached_property
    def count(self) -> int:
        if isinstance(self.object_list, QuerySet):
            n, self.estimated = count_rows(self.object_list)
            return n
        return super().count

    def validate_number(self, number: Any) -> int:
        if not (self.count and self.estimated):
            return super().validate_number(number)
        return _open_ended(number)

    def page(self, number: Any) -> Page:
        if not (self.count and self.estimated):
            return super().page(number)
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        rows = list(self.object_list[bottom:bottom + self.per_page + 1])
        if not rows and number > 1:
            raise EmptyPage("That page contains no results")
        more = len(rows) > self.per_page
        rows = rows[:self.per_page]
        # Keep the page links consistent with what was really found.
        seen = bottom + len(rows)
        if more:
            self.count = max(self.count, seen + 1)
        else:
            self.count = seen
        self.__dict__.pop("num_pages", None)
        return Page(rows, number, self)


class CappedPaginator(Paginator):
    """Counts at most `cap` rows (`COUNT` over `LIMIT cap + 1`): past a few thousand rows
    nobody pages to the end, and an exact COUNT over a large backlog would cost more than
    the page itself. `is_capped` tells the template to say "2000+". Past the cap, whether
    there is a next page is decided by fetching one row past the page, so paging goes on
    to the last row."""

    cap = 2000
    is_capped = False

    def __init__(self, *args: Any, known_count: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.known_count = known_count

    @cached_property
    def count(self) -> int:
        total = self.known_count
        if total is None:
            rows = self.object_list
            if isinstance(rows, QuerySet):
                # Any cap + 1 rows count the same: no sort, and no annotation or join that
                # only the page shows (an approaching clock's level is two subqueries).
                rows = rows.order_by().values("pk")
            total = rows[: self.cap + 1].count()
        self.is_capped = total > self.cap
        return min(total, self.cap)

    def validate_number(self, number: Any) -> int:
        if not (self.count and self.is_capped):
            return super().validate_number(number)
        return _open_ended(number)

    def page(self, number: Any) -> Page:
        number = self.validate_number(number)
        if not self.is_capped:
            return super().page(number)
        bottom = (number - 1) * self.per_page
        rows = list(self.object_list[bottom:bottom + self.per_page + 1])
        if not rows and number > 1:
            raise EmptyPage("That page contains no results")
        more = len(rows) > self.per_page
        rows = rows[:self.per_page]
        seen = bottom + len(rows)
        if more:  # at least what was seen and one more
            self.count = max(self.count, seen + 1)
        else:  # the last page: now the count is known
            self.count, self.is_capped = seen, False
        self.__dict__.pop("num_pages", None)
        return Page(rows, number, self)

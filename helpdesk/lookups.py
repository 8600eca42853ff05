"""Lookups on integer columns and foreign keys that a number past the column's range
cannot crash.

Django answers `pk=2**64` with "no row" instead of sending it to the database, but not
`pk__in=[2**64]`, nor a foreign key (`team_id=2**64`, `team__in=[...]`): there SQLite's
driver raises OverflowError (a 500 from a query string or a form field, such as a model
multiple choice). These lookups drop such numbers, which match no row, for every integer
field and foreign key, so no form, filter or view can forget. The edges still answer 400
where a single id is out of range (helpdesk.ids); this is the floor beneath them.
"""
from __future__ import annotations

from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db.models import Field, ForeignObject, IntegerField
from django.db.models.expressions import ColPairs
from django.db.models.fields.related_lookups import RelatedExact, RelatedIn
from django.db.models.lookups import In


def _column_range(field: Field, connection: Any) -> tuple[int | None, int | None]:
    while getattr(field, "remote_field", None) is not None and \
            getattr(field, "target_field", None) is not None:
        field = field.target_field  # a foreign key holds its target's values
    try:
        return connection.ops.integer_field_range(field.get_internal_type())
    except KeyError:  # not an integer column
        return None, None


def _fits(value: Any, low: int | None, high: int | None) -> bool:
    if not isinstance(value, int) or isinstance(value, bool):
        return True  # not a number: the database (or the field's own check) judges it
    return (low is None or value >= low) and (high is None or value <= high)


class _OutOfRangeMatchesNothing:
    def process_rhs(self, compiler: Any, connection: Any) -> Any:
        if self.rhs_is_direct_value() and not isinstance(self.lhs, ColPairs):
            low, high = _column_range(self.lhs.output_field, connection)
            if self.lookup_name == "in":
                values = list(self.rhs)
                kept = [v for v in values if _fits(v, low, high)]
                if values and not kept:
                    raise EmptyResultSet
                self.rhs = kept
            elif not _fits(self.rhs, low, high):
                raise EmptyResultSet
        return super().process_rhs(compiler, connection)


class IntegerFieldIn(_OutOfRangeMatchesNothing, In):
    pass


class BoundedRelatedIn(_OutOfRangeMatchesNothing, RelatedIn):
    pass


class BoundedRelatedExact(_OutOfRangeMatchesNothing, RelatedExact):
    pass


def register() -> None:
    IntegerField.register_lookup(IntegerFieldIn)
    ForeignObject.register_lookup(BoundedRelatedIn)
    ForeignObject.register_lookup(BoundedRelatedExact)

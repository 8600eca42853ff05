"""Object ids as the database holds them: the one range every id from outside is held to.

Ids are BigAutoField (DEFAULT_AUTO_FIELD): 1 to 2^63 - 1 on SQLite and PostgreSQL alike.
A number beyond that cannot name an object, and it must not reach a query: SQLite's
driver raises OverflowError and PostgreSQL refuses it for a bigint column (a 500 either
way). Query strings, paths, forms and API bodies check ids here and answer 400 or
"nothing found".
"""
from __future__ import annotations

import re
from collections.abc import Iterable

MIN_ID = 1
MAX_ID = 2**63 - 1

_DECIMAL = re.compile(r"[0-9]+")  # ASCII only: "²" is a digit to str.isdigit(), not to int()


def parse_id(value: object) -> int | None:
    """`value` as an id, or None when it is not a whole number in the database's range."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        text = str(value if value is not None else "").strip()
        if not _DECIMAL.fullmatch(text) or len(text) > 19:
            return None
        number = int(text)
    return number if MIN_ID <= number <= MAX_ID else None


def parse_ids(values: Iterable[object]) -> list[int]:
    """The values that are ids in range, in order, without repeats; the others dropped."""
    seen: dict[int, None] = {}
    for value in values:
        number = parse_id(value)
        if number is not None:
            seen.setdefault(number)
    return list(seen)

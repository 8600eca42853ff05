"""Date and number formats per language (settings.FORMAT_MODULE_PATH).

Every displayed date names its shape instead of spelling a pattern, so each language
writes it its own way: `date_format(value, "WEEKDAY_SHORT_DATETIME_FORMAT")` reads
"Mon 7 Dec 14:00" in English and "Mo., 7. Dez., 14:00" in German. The shapes are
Django's format settings (DATE_FORMAT, DATETIME_FORMAT, SHORT_DATETIME_FORMAT, ...) plus
the few the product needs beyond them (APP_FORMATS), all defined side by side in
helpdesk/formats/<lang>/formats.py. Machine formats ('c', 'Y-m-d') are still passed as
patterns and pass through unchanged.

The Jinja2 filters (wiring/jinja2.py) and the Python that builds display text (notices,
notifications, flash messages) share these functions.
"""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from types import ModuleType

from django.utils import formats

# The product's shapes beyond Django's names; each formats.py defines all of them.
APP_FORMATS = frozenset({
    "WEEKDAY_DATE_FORMAT", "WEEKDAY_SHORT_DATE_FORMAT", "WEEKDAY_DATETIME_FORMAT",
    "WEEKDAY_SHORT_DATETIME_FORMAT", "COMPACT_DATETIME_FORMAT", "ZONED_DATETIME_FORMAT",
    "LONG_DATETIME_FORMAT", "PERCENT_FORMAT",
})


def _english() -> ModuleType:
    from helpdesk.formats.en import formats as english
    return english


def display_format(name: str) -> str:
    """The active language's pattern for `name`: one of APP_FORMATS, else whatever
    Django's get_format makes of it (a format setting's name, or a literal pattern)."""
    if name not in APP_FORMATS:
        return formats.get_format(name)
    # With no language active (a task outside any override) English is the fallback.
    for module in [*formats.get_format_modules(), _english()]:
        pattern = getattr(module, name, None)
        if pattern:
            return pattern
    raise KeyError(name)


def date_format(value: dt.date | dt.datetime, name: str = "DATE_FORMAT") -> str:
    """`value` (already in the reader's zone) in the active language's shape `name`."""
    return formats.date_format(value, display_format(name))


def time_format(value: dt.time | dt.datetime, name: str = "TIME_FORMAT") -> str:
    """Like date_format, for a time of day."""
    return formats.time_format(value, display_format(name))


def number(value: int | float | Decimal | str | None, decimals: int | None = None) -> str:
    """A figure as the reader's language writes it, grouped: "1,234.5" / "1.234,5".

    `decimals` fixes the digits after the separator (rounded); None keeps the value's own.
    Text (an already formatted figure, "—") passes through; None is "".
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if decimals is not None:
        # Rounded half up as the floatformat filter does (number_format truncates).
        value = Decimal(repr(value) if isinstance(value, float) else value).quantize(
            Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return formats.number_format(value, decimal_pos=decimals, use_l10n=True,
                                 force_grouping=True)


def percent(value: int | float | Decimal | str | None, decimals: int | None = 1) -> str:
    """A percentage in the reader's language: "12.5 %" / "12,5 %"; None is "—"."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return display_format("PERCENT_FORMAT") % number(value, decimals)


def share(value: float | None, decimals: int | None = 1) -> str:
    """A fraction in [0, 1] as a percentage: share(0.125) is "12.5 %" / "12,5 %"."""
    return "—" if value is None else percent(value * 100, decimals)

"""Calls sla makes to the apps above it, filled in by their `AppConfig.ready()`.

sla may not import `reporting` (it sits above), yet a clock repair changes figures the
manager dashboard has already rolled up; reporting registers what to refresh here.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

#: Each receives the start hours of corrected first-response clocks and returns how
#: many rows of its own it refreshed.
HoursRefresher = Callable[[Iterable[datetime]], int]

_clock_hours_corrected: list[HoursRefresher] = []


def on_clock_hours_corrected(refresh: HoursRefresher) -> HoursRefresher:
    """Register `refresh` (once, however often `ready()` runs)."""
    if refresh not in _clock_hours_corrected:
        _clock_hours_corrected.append(refresh)
    return refresh


def clock_hours_corrected(hours: Iterable[datetime]) -> int:
    """Tell every registered app; the number of rows they refreshed, all told."""
    hours = set(hours)
    return sum(refresh(hours) for refresh in _clock_hours_corrected)

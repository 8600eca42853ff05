"""Every write of the workforce app, one module per area: `schedules` (shifts, time off,
agent status) and `oncall` (rotations, overrides and swaps, pages and their escalation).
Reads that pages share are in workforce.selectors, the pure arithmetic in shift_time,
oncall (rotation turns), erlang and forecast."""
from __future__ import annotations

from . import oncall, schedules

__all__ = ["oncall", "schedules"]

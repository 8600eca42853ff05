"""Pure formulas of technical casework (no Django): metric definitions, signal rules, periods.

Definitions (the dashboard and the weekly report use exactly these):

- time to first evidence: first verified evidence item − first assignment of the ticket;
  none while either is missing; never negative.
- solve-without-engineering rate: resolved technical tickets with no engineering
  involvement ÷ resolved technical tickets.
- escalation rework rate: escalations returned for missing context ÷ escalations.
- workflow reuse count: tickets that followed a playbook (a playbook was started on them).
- repeat-case rate: recurring technical tickets (an active playbook for their category or
  product area existed when they were opened) that followed a playbook ÷ recurring tickets.
- escalation rate of a tier: tickets escalated out of the tier ÷ tickets the tier handled.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta


def time_to_first_evidence(assigned_at: datetime | None,
                           evidence_at: datetime | None) -> timedelta | None:
    if assigned_at is None or evidence_at is None:
        return None
    return max(evidence_at - assigned_at, timedelta(0))


def rate(part: int, whole: int) -> float | None:
    """A share in [0, 1], or None when there is nothing to divide (shown as "—")."""
    return None if not whole else part / whole


def percent_text(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes = round(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


# --- at-risk signals ------------------------------------------------------------------------

CHURN_PHRASES = (
    "cancel our subscription", "cancel my subscription", "cancel the subscription",
    "cancel our contract", "cancel our account", "terminate our contract",
    "not renew", "won't renew", "will not renew", "not be renewing",
    "switch to another", "switching to", "moving to a competitor", "move to a competitor",
    "looking at alternatives", "evaluating alternatives", "churn", "leave your service",
)
_CHURN = re.compile(r"\b(" + "|".join(re.escape(p) for p in CHURN_PHRASES) + r")\b",
                    re.IGNORECASE)


def churn_phrase(text: str) -> str | None:
    """The first churn phrase in the text, or None."""
    match = _CHURN.search(text or "")
    return match.group(1).lower() if match else None


EXECUTIVE_TAGS = frozenset({"executive", "executive-complaint", "exec-escalation"})
INCIDENT_TAGS = frozenset({"incident", "major-incident"})
CSAT_WINDOW = 3


def csat_trend_negative(ratings: Sequence[int], *, window: int = CSAT_WINDOW) -> bool:
    """Ratings oldest first (1–5). Negative when the latest `window` ratings average at
    least one point below the `window` before them, or are all 2 or less."""
    if len(ratings) < window:
        return False
    latest = list(ratings[-window:])
    if all(r <= 2 for r in latest):
        return True
    before = list(ratings[-2 * window:-window])
    if len(before) < window:
        return False
    return sum(latest) / window <= sum(before) / window - 1


def period_key(at: datetime | date) -> str:
    """The alert period: the ISO week, e.g. 2026-W48."""
    year, week, _ = at.isocalendar()
    return f"{year}-W{week:02d}"


def week_start(day: date) -> date:
    """The Monday of the ISO week of `day`."""
    return day - timedelta(days=day.weekday())


def trend(current: int, previous: int) -> int:
    return current - previous

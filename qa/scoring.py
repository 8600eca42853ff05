"""Scorecard arithmetic (pure Python): weighted score with auto-fail, and score bands.

A scorecard has dimensions, each worth `weight` points; the reviewer picks a rubric level
per dimension, whose `points` lie between 0 and the weight. The score is the points earned
as a share of the points available, on 0–100, so a scorecard whose weights do not add up
to 100 still scores on the same scale. A dimension marked not applicable counts neither
way. Any auto-fail item ticked sets the score to 0 whatever else was scored.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext, gettext_lazy

TWO_PLACES = Decimal("0.01")
FULL_MARKS = Decimal(100)


class ScoringError(ValueError):
    """The scores given cannot be turned into a review score."""


@dataclass(frozen=True)
class DimensionScore:
    """One dimension as scored: its weight and the points of the level picked.

    `points` None means not scored yet; `not_applicable` leaves the dimension out.
    """

    weight: int
    points: int | None
    not_applicable: bool = False


@dataclass(frozen=True)
class Result:
    score: Decimal | None  # None while the scorecard is incomplete
    earned: int
    available: int
    auto_failed: bool
    complete: bool


def compute(dimensions: Sequence[DimensionScore], *, auto_fail: bool = False) -> Result:
    """Weighted score on 0–100, rounded half up to 2 places; 0 when auto-failed.

    Incomplete (a dimension neither scored nor N/A) gives score None unless auto-failed:
    an auto-fail decides the score on its own.
    """
    earned = available = 0
    complete = True
    for dim in dimensions:
        if dim.weight < 0:
            raise ScoringError("A weight cannot be negative.")
        if dim.not_applicable:
            continue
        if dim.points is None:
            complete = False
            continue
        if not 0 <= dim.points <= dim.weight:
            raise ScoringError(f"{dim.points} points is outside 0–{dim.weight}.")
        earned += dim.points
        available += dim.weight
    if auto_fail:
        return Result(Decimal(0).quantize(TWO_PLACES), earned, available, True, True)
    if not complete:
        return Result(None, earned, available, False, False)
    if available == 0:
        raise ScoringError(gettext("Every dimension is not applicable: nothing to score."))
    score = (FULL_MARKS * earned / available).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)
    return Result(score, earned, available, False, True)


def attainment(points: int, weight: int) -> Decimal:
    """A dimension's points as a percentage of its weight (for per-dimension averages)."""
    if weight <= 0:
        raise ScoringError("A dimension needs a positive weight.")
    return (FULL_MARKS * points / weight).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


# Bands, highest first: (key, label, lowest score in the band). Critical fails (auto-fail)
# are their own band so that a 0 for data exposure is not read as merely "poor".
BANDS: tuple[tuple[str, str, Decimal], ...] = (
    ("excellent", gettext_lazy("Excellent (90–100)"), Decimal(90)),
    ("good", gettext_lazy("Good (80–89)"), Decimal(80)),
    ("fair", gettext_lazy("Needs improvement (70–79)"), Decimal(70)),
    ("poor", gettext_lazy("Poor (below 70)"), Decimal(0)),
)
CRITICAL_FAIL = ("critical_fail", gettext_lazy("Critical fail (auto-fail)"))
BAND_KEYS = [key for key, _, _ in BANDS] + [CRITICAL_FAIL[0]]
BAND_LABELS = {key: label for key, label, _ in BANDS} | {CRITICAL_FAIL[0]: CRITICAL_FAIL[1]}


def band(score: Decimal | float | int, *, auto_failed: bool = False) -> str:
    """The band key of a score; auto-failed reviews are 'critical_fail'."""
    if auto_failed:
        return CRITICAL_FAIL[0]
    value = Decimal(str(score))
    if not 0 <= value <= FULL_MARKS:
        raise ScoringError(f"Score {value} is outside 0–100.")
    for key, _, floor in BANDS:
        if value >= floor:
            return key
    raise AssertionError("unreachable: the last band starts at 0")


def distribution(scores: Iterable[tuple[Decimal, bool]]) -> dict[str, int]:
    """Count of (score, auto_failed) pairs per band, every band present."""
    counts = dict.fromkeys(BAND_KEYS, 0)
    for score, failed in scores:
        counts[band(score, auto_failed=failed)] += 1
    return counts

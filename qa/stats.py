"""QA statistics (pure Python): spread, standard deviation, Pearson, trend slope, drift.

Standard deviation is the population one (the reviewers in a calibration session are the
whole group measured, not a sample of one), in score points.
"""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

# Calibration: scores further apart than this are discussed; the team's calibration
# variance target is below this many points.
DISAGREEMENT_POINTS = 5.0


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def spread(values: Sequence[float]) -> float | None:
    """max − min; None for no values."""
    return max(values) - min(values) if values else None


def stdev(values: Sequence[float]) -> float | None:
    """Population standard deviation; None for no values, 0 for one."""
    if not values:
        return None
    m = sum(values) / len(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / len(values))


@dataclass(frozen=True)
class Spread:
    n: int
    mean: float | None
    minimum: float | None
    maximum: float | None
    spread: float | None
    stdev: float | None

    @property
    def disagrees(self) -> bool:
        """More than DISAGREEMENT_POINTS between the highest and the lowest score."""
        return self.spread is not None and self.spread > DISAGREEMENT_POINTS


def describe(values: Iterable[float]) -> Spread:
    vals = [float(v) for v in values]
    return Spread(
        n=len(vals), mean=mean(vals), minimum=min(vals) if vals else None,
        maximum=max(vals) if vals else None, spread=spread(vals), stdev=stdev(vals),
    )


def pearson(pairs: Iterable[tuple[float, float]]) -> float | None:
    """Pearson's r over (x, y) pairs; None with fewer than 2 pairs or no variation."""
    xs, ys = [], []
    for x, y in pairs:
        xs.append(float(x))
        ys.append(float(y))
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def slope(points: Iterable[tuple[float, float]]) -> float | None:
    """Least-squares slope of y over x (e.g. score points per week); None if undefined."""
    xs, ys = [], []
    for x, y in points:
        xs.append(float(x))
        ys.append(float(y))
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


@dataclass(frozen=True)
class Drift:
    """How far one reviewer's calibration scores sit from the agreed scores.

    `bias` is signed (positive: scores higher than agreed, i.e. lenient); `mean_abs` is
    the average distance whatever the direction; `by_period` the bias per period.
    """

    n: int
    bias: float
    mean_abs: float
    by_period: dict[Hashable, float]


def drift(rows: Iterable[tuple[Hashable, Hashable, float, float]]) -> dict[Hashable, Drift]:
    """Per reviewer, from (reviewer, period, reviewer_score, agreed_score) rows."""
    diffs: dict[Hashable, list[float]] = defaultdict(list)
    periods: dict[Hashable, dict[Hashable, list[float]]] = defaultdict(lambda: defaultdict(list))
    for reviewer, period, score, agreed in rows:
        d = float(score) - float(agreed)
        diffs[reviewer].append(d)
        periods[reviewer][period].append(d)
    return {
        reviewer: Drift(
            n=len(ds), bias=sum(ds) / len(ds), mean_abs=sum(abs(d) for d in ds) / len(ds),
            by_period={p: sum(v) / len(v) for p, v in sorted(periods[reviewer].items(),
                                                             key=lambda kv: str(kv[0]))},
        )
        for reviewer, ds in diffs.items()
    }

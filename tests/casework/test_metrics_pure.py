"""The pure formulas: time to first evidence, rates, churn phrases, periods."""
from datetime import date, timedelta

import pytest

from casework import metrics
from casework.models import feedback_key

from .conftest import at


def test_time_to_first_evidence():
    assert metrics.time_to_first_evidence(at(2026, 3, 3, 9), at(2026, 3, 3, 11, 30)) == \
        timedelta(hours=2, minutes=30)
    assert metrics.time_to_first_evidence(None, at(2026, 3, 3)) is None
    assert metrics.time_to_first_evidence(at(2026, 3, 3), None) is None
    # Evidence gathered before the assignment (e.g. by L1) counts as immediate.
    assert metrics.time_to_first_evidence(at(2026, 3, 3, 9), at(2026, 3, 3, 8)) == timedelta(0)


def test_rates_and_texts():
    assert metrics.rate(1, 7) == pytest.approx(0.142857, abs=1e-6)
    assert metrics.rate(0, 0) is None
    assert metrics.percent_text(2 / 3) == "66.7 %" and metrics.percent_text(None) == "—"
    assert metrics.duration_text(10800) == "3 h 00 min"
    assert metrics.duration_text(59 * 60) == "59 min"


@pytest.mark.parametrize(("text", "phrase"), [
    ("We will CANCEL OUR SUBSCRIPTION next month", "cancel our subscription"),
    ("honestly we won't renew", "won't renew"),
    ("Management is evaluating alternatives.", "evaluating alternatives"),
    ("Please cancel the meeting", None),
    ("Our churning butter machine", None),  # whole words only
    ("", None),
])
def test_churn_phrases(text, phrase):
    assert metrics.churn_phrase(text) == phrase


def test_periods_are_iso_weeks():
    assert metrics.period_key(at(2026, 3, 8, 23, 59)) == "2026-W10"
    assert metrics.period_key(at(2026, 3, 9)) == "2026-W11"
    assert metrics.period_key(date(2027, 1, 1)) == "2026-W53"  # ISO year, not calendar year
    assert metrics.week_start(date(2026, 3, 8)) == date(2026, 3, 2)


def test_feedback_key_normalises_spelling():
    assert feedback_key("feature", "Bulk  Export!") == feedback_key("feature", "bulk export")
    assert feedback_key("bug", "Bulk export") != feedback_key("feature", "Bulk export")

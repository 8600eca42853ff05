"""Calibration: blind scoring, spread and standard deviation on a known set, agreed
scores, reviewer drift and the dashboard's calibration variance."""
import math
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from qa import selectors, services
from qa.models import CalibrationSession

from .conftest import picks, resolved


@pytest.fixture
def session(customer_a, agent, reviewer, reviewer2, lead, manager):
    ticket = resolved(customer_a, agent)
    return services.start_calibration(title="November", facilitator=manager,
                                      participants=[reviewer, reviewer2, lead],
                                      tickets=[ticket])


def _result(session, user):
    return selectors.calibration_results(session, user)[0]


def test_scores_are_blind_until_you_have_scored(session, reviewer, reviewer2, lead, manager,
                                                card):
    item = session.items.get()
    services.submit_calibration_score(item, reviewer=reviewer,
                                      data=picks(card, {"Solution quality": 20}))
    # reviewer2 has not scored: sees only how many have.
    blind = _result(session, reviewer2)
    assert not blind.visible and blind.scores == [] and blind.total is None
    assert blind.submitted == 1 and blind.expected == 3
    # The facilitator (not scoring) waits for everyone.
    assert not _result(session, manager).visible
    # Having scored, reviewer sees the scores submitted so far.
    mine = _result(session, reviewer)
    assert mine.visible and [float(s.score) for s in mine.scores] == [90.0]
    services.submit_calibration_score(item, reviewer=reviewer2,
                                      data=picks(card, {"Solution quality": 25}))
    assert _result(session, reviewer2).visible
    assert not _result(session, manager).visible
    services.submit_calibration_score(item, reviewer=lead, data=picks(card))
    assert _result(session, manager).visible


def test_spread_and_stdev_on_a_known_set(session, reviewer, reviewer2, lead, manager, card):
    item = session.items.get()
    # 90, 95, 100: spread 10, population stdev √(50/3) ≈ 4.08; solution quality the same
    # (20, 25, 30); communication all 25: no spread.
    for user, solution in ((reviewer, 20), (reviewer2, 25), (lead, 30)):
        services.submit_calibration_score(item, reviewer=user,
                                          data=picks(card, {"Solution quality": solution}))
    result = _result(session, manager)
    assert result.total.spread == 10
    assert result.total.stdev == pytest.approx(math.sqrt(50 / 3))
    assert result.total.disagrees  # over 5 points: highlighted
    dims = {d.name: d for d in result.dimensions}
    assert sorted(dims["Solution quality"].points) == [20, 25, 30]
    assert dims["Solution quality"].spread.spread == 10
    assert dims["Solution quality"].spread.disagrees
    assert dims["Communication"].spread.spread == 0
    assert not dims["Communication"].spread.disagrees


def test_agreed_score_drift_and_variance(session, reviewer, reviewer2, lead, manager, card):
    item = session.items.get()
    for user, solution in ((reviewer, 20), (reviewer2, 25), (lead, 30)):
        services.submit_calibration_score(item, reviewer=user,
                                          data=picks(card, {"Solution quality": solution}))
    with pytest.raises(PermissionDenied):
        services.record_agreed_score(item, actor=reviewer, data=picks(card))
    with pytest.raises(ValidationError):  # not every ticket agreed yet
        services.close_calibration(session, actor=manager)
    item = services.record_agreed_score(item, actor=manager,
                                        data=picks(card, {"Solution quality": 25}),
                                        notes="A missing detail is 'good', not 'adequate'.")
    assert float(item.agreed_score) == 95
    sol = str(card.dimensions.get(name="Solution quality").pk)
    assert item.agreed_levels[sol] == 25
    services.close_calibration(session, actor=manager, notes="Agreed on solution quality.")
    session.refresh_from_db()
    assert session.status == CalibrationSession.Status.CLOSED
    drift = {d["reviewer"].username: d for d in selectors.reviewer_drift()}
    assert (drift["quinn"]["bias"], drift["quinn"]["mean_abs"]) == (-5, 5)
    assert (drift["rita"]["bias"], drift["rita"]["mean_abs"]) == (0, 0)
    assert (drift["lena"]["bias"], drift["lena"]["mean_abs"]) == (5, 5)
    now = timezone.now()
    variance = selectors.calibration_variance(start=now - timedelta(days=1),
                                              end=now + timedelta(days=1))
    assert variance["tickets"] == 1
    assert variance["stdev"] == pytest.approx(4.0825, abs=1e-4)
    assert variance["spread"] == 10


def test_a_score_is_final_and_only_participants_score(session, reviewer, agent, card):
    item = session.items.get()
    services.submit_calibration_score(item, reviewer=reviewer, data=picks(card))
    with pytest.raises(ValidationError):
        services.submit_calibration_score(item, reviewer=reviewer, data=picks(card))
    with pytest.raises(PermissionDenied):
        services.submit_calibration_score(item, reviewer=agent, data=picks(card))


def test_closed_session_shows_everything(session, reviewer, reviewer2, lead, manager, card):
    item = session.items.get()
    for user in (reviewer, reviewer2, lead):
        services.submit_calibration_score(item, reviewer=user, data=picks(card))
    services.record_agreed_score(item, actor=manager, data=picks(card))
    services.close_calibration(session, actor=manager)
    session.refresh_from_db()
    assert _result(session, reviewer).visible


def test_session_needs_reviewers_and_defaults_to_three_tickets(customer_a, agent, reviewer,
                                                               reviewer2, manager):
    with pytest.raises(ValidationError):
        services.start_calibration(title="x", facilitator=manager, participants=[reviewer])
    with pytest.raises(ValidationError):  # agents are not reviewers
        services.start_calibration(title="x", facilitator=manager,
                                   participants=[reviewer, agent])
    for _ in range(6):
        resolved(customer_a, agent)
    session = services.start_calibration(title="x", facilitator=manager,
                                         participants=[reviewer, reviewer2])
    assert session.items.count() == 3
    with pytest.raises(PermissionDenied):
        services.start_calibration(title="x", facilitator=agent,
                                   participants=[reviewer, reviewer2])

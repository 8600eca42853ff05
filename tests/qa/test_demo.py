"""The QA demo data: reviews in every state, coaching, a half-scored calibration session;
idempotent."""
import io

from helpdesk.roles import Role
from qa import demo
from qa.models import CalibrationSession, CoachingSession, Review, ReviewStatus
from tests.factories import make_user, team

from .conftest import resolved


def test_seed_demo_is_idempotent(customer_a):
    l1 = team("l1-general")
    make_user(Role.QA_REVIEWER, username="qa")
    make_user(Role.TEAM_LEAD, teams=(l1,), lead=True, username="lead")
    agent = make_user(Role.AGENT, teams=(l1,), username="agent")
    make_user(Role.MANAGER, username="manager")
    for _ in range(8):
        resolved(customer_a, agent)
    out = io.StringIO()
    demo.seed_demo(out)
    statuses = set(Review.objects.values_list("status", flat=True))
    assert {ReviewStatus.SUBMITTED, ReviewStatus.DISPUTED, ReviewStatus.ACKNOWLEDGED,
            ReviewStatus.DRAFT} <= statuses
    assert CoachingSession.objects.count() == 1
    session = CalibrationSession.objects.get()
    assert session.items.count() == 3
    before = Review.objects.count()
    demo.seed_demo(out)
    assert Review.objects.count() == before and CalibrationSession.objects.count() == 1

"""Reviews end to end through the services: score, submit, notify, acknowledge, dispute."""
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from helpdesk.models import Notification
from qa import services
from qa.models import Dispute, Review, ReviewEvent, ReviewStatus
from tests.factories import make_user

from .conftest import picks, resolved


@pytest.fixture
def review(customer_a, agent, reviewer, card):
    ticket = resolved(customer_a, agent)
    return services.create_review(ticket=ticket, actor=reviewer)


def test_default_scorecard_is_seeded_with_weights_levels_and_auto_fail(card):
    dims = list(card.dimensions.values_list("name", "weight"))
    assert dims == [("Solution quality", 30), ("Communication", 25), ("Process adherence", 20),
                    ("Efficiency", 15), ("Customer experience", 10)]
    solution = card.dimensions.get(name="Solution quality")
    assert list(solution.levels.values_list("points", flat=True)) == [30, 25, 20, 15, 10, 0]
    assert set(card.auto_fail_items.values_list("name", flat=True)) == {
        "Critical error", "Data exposure", "Offensive tone"}
    assert card.checklist_items.count() >= 4
    assert card.version == 1


def test_submitted_score_is_weighted_and_computed(review, reviewer, card,
                                                  django_capture_on_commit_callbacks):
    data = picks(card, {"Solution quality": 25, "Communication": 20, "Efficiency": 12},
                 checklist=("Next steps were provided",), summary="Solid work.")
    with django_capture_on_commit_callbacks(execute=True):
        review = services.submit_review(review, actor=reviewer, data=data)
    # 25 + 20 + 20 + 12 + 10 = 87
    assert review.score == Decimal("87.00")
    assert review.status == ReviewStatus.SUBMITTED and not review.auto_failed
    assert review.checklist_items.count() == 1
    note = Notification.objects.get(recipient=review.agent)
    assert note.dedupe_key == f"qa.review.{review.pk}.submitted"
    assert f"/qa/reviews/{review.pk}/" in note.url


def test_auto_fail_sets_score_to_zero(review, reviewer, card):
    review = services.submit_review(review, actor=reviewer,
                                    data=picks(card, auto_fail=("Data exposure",)))
    assert review.score == Decimal("0.00") and review.auto_failed


def test_draft_keeps_partial_work_without_score_and_submit_needs_everything(review, reviewer,
                                                                            card):
    partial = picks(card, {"Communication": None, "Efficiency": None},
                    comments={"Solution quality": "Correct fix."})
    review = services.save_draft(review, actor=reviewer, data=partial)
    assert review.status == ReviewStatus.DRAFT and review.score is None
    assert review.scores.get(dimension__name="Solution quality").comment == "Correct fix."
    with pytest.raises(ValidationError):
        services.submit_review(review, actor=reviewer, data=partial)


def test_level_of_another_dimension_is_refused(review, reviewer, card):
    data = picks(card)
    solution = card.dimensions.get(name="Solution quality")
    communication = card.dimensions.get(name="Communication")
    data.levels[solution.pk] = communication.levels.first().pk
    with pytest.raises(ValidationError):
        services.submit_review(review, actor=reviewer, data=data)


def test_only_the_assigned_reviewer_scores(review, reviewer2, card):
    with pytest.raises(PermissionDenied):
        services.submit_review(review, actor=reviewer2, data=picks(card))


def test_reviewer_cannot_review_themselves(customer_a, lead, card):
    # A lead may review, but not a ticket they handled themselves.
    ticket = resolved(customer_a, lead)
    review = services.create_review(ticket=ticket, actor=lead)
    assert review.reviewer is None  # left unassigned rather than self-assigned
    with pytest.raises(ValidationError):
        services.assign_review(review, reviewer=lead, actor=lead)
    with pytest.raises(ValidationError):
        services.create_review(ticket=resolved(customer_a, lead), actor=lead, reviewer=lead)


def test_database_refuses_a_self_review(customer_a, agent, card):
    ticket = resolved(customer_a, agent)
    with pytest.raises(IntegrityError), transaction.atomic():
        Review.objects.create(scorecard=card, ticket=ticket, agent=agent, reviewer=agent,
                              created_at=ticket.created_at, updated_at=ticket.created_at)


def test_plain_agent_cannot_create_reviews(customer_a, agent, l2_agent):
    with pytest.raises(PermissionDenied):
        services.create_review(ticket=resolved(customer_a, agent), actor=l2_agent)


def test_same_ticket_is_not_reviewed_twice_on_a_scorecard(review, reviewer2, card):
    with pytest.raises(ValidationError):
        services.create_review(ticket=review.ticket, actor=reviewer2)
    with pytest.raises(IntegrityError), transaction.atomic():
        Review.objects.create(scorecard=card, ticket=review.ticket, agent=review.agent,
                              created_at=review.created_at, updated_at=review.created_at)


def test_agent_acknowledges(review, reviewer, card, agent):
    services.submit_review(review, actor=reviewer, data=picks(card))
    with pytest.raises(PermissionDenied):
        services.acknowledge(review, actor=reviewer)
    review = services.acknowledge(review, actor=agent)
    assert review.status == ReviewStatus.ACKNOWLEDGED and review.acknowledged_at


def test_dispute_kept_by_lead(review, reviewer, card, agent, lead,
                              django_capture_on_commit_callbacks):
    services.submit_review(review, actor=reviewer, data=picks(card, {"Communication": 10}))
    with django_capture_on_commit_callbacks(execute=True):
        services.dispute(review, actor=agent, reason="The customer asked for a short answer.")
    assert Notification.objects.filter(recipient=lead, source="qa.dispute").count() == 1
    review.refresh_from_db()
    assert review.status == ReviewStatus.DISPUTED
    with pytest.raises(PermissionDenied):  # agents do not resolve disputes
        services.resolve_dispute(review, actor=agent, outcome="kept", note="no")
    services.resolve_dispute(review, actor=lead, outcome="kept",
                             note="Short is fine, but it still has to be warm.")
    review.refresh_from_db()
    dispute = Dispute.objects.get(review=review)
    assert review.status == ReviewStatus.RESOLVED and review.score == Decimal("85.00")
    assert (dispute.outcome, dispute.score_before, dispute.score_after) == (
        "kept", Decimal("85.00"), Decimal("85.00"))


def test_dispute_revised_keeps_history(review, reviewer, card, agent, lead):
    services.submit_review(review, actor=reviewer, data=picks(card, {"Communication": 10}))
    services.dispute(review, actor=agent, reason="Tone was fine.")
    services.resolve_dispute(review, actor=lead, outcome="revised", note="Agreed: good tone.",
                             data=picks(card, {"Communication": 20}))
    review.refresh_from_db()
    assert review.score == Decimal("95.00")
    revised = review.events.get(kind=ReviewEvent.Kind.REVISED)
    assert (revised.score_before, revised.score_after) == (Decimal("85.00"), Decimal("95.00"))
    comm = str(card.dimensions.get(name="Communication").pk)
    assert revised.data["before"]["levels"][comm] == 10
    assert revised.data["after"]["levels"][comm] == 20
    kinds = list(review.events.values_list("kind", flat=True))
    assert kinds == ["created", "submitted", "disputed", "revised"]
    with pytest.raises(ValidationError):  # one dispute per review
        services.dispute(review, actor=agent, reason="Again")


def test_dispute_resolution_by_the_reviewer_is_refused(customer_a, agent, lead, card):
    ticket = resolved(customer_a, agent)
    review = services.create_review(ticket=ticket, actor=lead)
    services.submit_review(review, actor=lead, data=picks(card))
    services.dispute(review, actor=agent, reason="Disagree")
    with pytest.raises(PermissionDenied):
        services.resolve_dispute(review, actor=lead, outcome="kept", note="I am right")


def test_history_is_append_only(review):
    from helpdesk.models import AppendOnlyError

    event = review.events.first()
    with pytest.raises(AppendOnlyError):
        event.save()


def test_ticket_of_the_week_and_coaching(review, reviewer, card, agent, lead):
    services.submit_review(review, actor=reviewer, data=picks(card))
    with pytest.raises(PermissionDenied):
        services.set_ticket_of_week(review, actor=reviewer)
    review = services.set_ticket_of_week(review, actor=lead)
    assert review.is_ticket_of_week
    import datetime as dt

    coaching = services.record_coaching(
        agent=agent, coach=lead, held_on=dt.date(2026, 11, 20), strengths="Warm tone",
        development_focus="Restate the issue", goals="Restate in 5 of 5 tickets",
        follow_up_on=dt.date(2026, 11, 27), reviews=[review])
    assert list(coaching.reviews.all()) == [review]
    other = make_user("agent", username="otto")
    with pytest.raises(ValidationError):  # only reviews of this agent
        services.record_coaching(agent=other, coach=lead, held_on=dt.date(2026, 11, 20),
                                 strengths="x", development_focus="y", reviews=[review])

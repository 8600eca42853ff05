"""The weekly sample: sizes by team size, stratification, flagged tickets, exclusions,
reproducibility and idempotence."""
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from helpdesk.models import Notification
from helpdesk.roles import Role
from qa import services
from qa.models import QAFlag, Review, SampleRun
from tests.factories import make_user, team
from tickets.models import Category, Survey

from .conftest import picks, resolved

WEEK = datetime(2026, 11, 16, tzinfo=UTC)  # Monday of ISO week 2026-W47
IN_WEEK = WEEK + timedelta(days=2, hours=10)
TUESDAY_AFTER = WEEK + timedelta(days=8, hours=2)


@pytest.fixture
def categories(db):
    return [Category.objects.create(name=f"Cat {i}", slug=f"cat-{i}") for i in range(5)]


def _sample(agent):
    return Review.objects.filter(agent=agent).order_by("ticket_id")


def test_small_team_agent_gets_five_stratified_tickets(customer_a, agent, reviewer, categories):
    # The agent is the only non-lead member of L1: team size 1 → 5 tickets per week.
    tickets = [resolved(customer_a, agent, at=IN_WEEK, category=categories[i % 5],
                        priority=1 + (i % 2)) for i in range(20)]
    with time_machine.travel(TUESDAY_AFTER, tick=False):
        created = services.run_weekly_sampling()
    assert created == 5
    reviews = list(_sample(agent))
    assert {r.source for r in reviews} == {Review.Source.SAMPLE}
    by_id = {t.pk: t for t in tickets}
    # 5 tickets from 10 strata (5 categories × 2 priorities): no stratum twice, and
    # every category present (each category has both priorities).
    strata = {(by_id[r.ticket_id].category_id, by_id[r.ticket_id].priority) for r in reviews}
    assert len(strata) == 5
    assert all(r.reviewer_id == reviewer.pk for r in reviews)
    assert all(r.week_start == WEEK.date() for r in reviews)
    # The reviewer is told once about their new queue.
    assert Notification.objects.filter(recipient=reviewer, source="qa.sample").count() == 1


def test_larger_team_gets_fewer_tickets_per_agent(customer_a, reviewer):
    l2 = team("l2-technical")
    agents = [make_user(Role.AGENT, teams=(l2,)) for _ in range(7)]  # 7 agents → 4 each
    for a in agents[:2]:
        for _ in range(6):
            resolved(customer_a, a, at=IN_WEEK)
    with time_machine.travel(TUESDAY_AFTER, tick=False):
        assert services.run_weekly_sampling() == 8
    assert [_sample(a).count() for a in agents[:2]] == [4, 4]


def test_running_twice_the_same_week_creates_nothing(customer_a, agent, reviewer):
    for _ in range(8):
        resolved(customer_a, agent, at=IN_WEEK)
    with time_machine.travel(TUESDAY_AFTER, tick=False):
        assert services.run_weekly_sampling() == 5
        assert services.run_weekly_sampling() == 0
    assert Review.objects.count() == 5
    assert SampleRun.objects.get().reviews_created == 5


def test_sample_is_reproducible_from_its_seed(customer_a, agent, reviewer, categories):
    for i in range(15):
        resolved(customer_a, agent, at=IN_WEEK, category=categories[i % 3], priority=1 + i % 3)
    with time_machine.travel(TUESDAY_AFTER, tick=False):
        services.run_weekly_sampling()
        first = list(_sample(agent).values_list("ticket_id", flat=True))
        Review.objects.all().delete()
        SampleRun.objects.all().delete()
        services.run_weekly_sampling()
        again = list(_sample(agent).values_list("ticket_id", flat=True))
    assert first == again and len(first) == 5


def test_exclusions_outside_week_merged_and_already_reviewed(customer_a, agent, reviewer,
                                                             reviewer2, card):
    inside = [resolved(customer_a, agent, at=IN_WEEK) for _ in range(3)]
    resolved(customer_a, agent, at=WEEK - timedelta(minutes=1))  # previous week
    resolved(customer_a, agent, at=WEEK + timedelta(days=7))  # next week
    resolved(customer_a, agent, at=IN_WEEK, status="in_progress")  # not resolved
    resolved(customer_a, None, at=IN_WEEK)  # nobody to review
    merged = resolved(customer_a, agent, at=IN_WEEK)
    merged.merged_into = inside[0]
    merged.save()
    # Reviewed before on this scorecard (any version): never drawn again.
    services.create_review(ticket=inside[0], actor=reviewer2)
    with time_machine.travel(TUESDAY_AFTER, tick=False):
        assert services.run_weekly_sampling() == 2
    assert set(Review.objects.filter(source="sample").values_list("ticket_id", flat=True)) == {
        inside[1].pk, inside[2].pk}


def test_flagged_tickets_are_added_on_top_of_the_sample(customer_a, agent, reviewer, lead):
    plain = [resolved(customer_a, agent, at=IN_WEEK) for _ in range(8)]
    reopened = resolved(customer_a, agent, at=IN_WEEK, reopen_count=1)
    breached = resolved(customer_a, agent, at=IN_WEEK, sla_level="breach")
    low = resolved(customer_a, agent, at=IN_WEEK)
    Survey.objects.create(ticket=low, resolution=0, requester=customer_a, agent=agent,
                          status=Survey.Status.RESPONDED, rating=2, scheduled_for=IN_WEEK)
    happy = plain[0]
    Survey.objects.create(ticket=happy, resolution=0, requester=customer_a, agent=agent,
                          status=Survey.Status.RESPONDED, rating=5, scheduled_for=IN_WEEK)
    # Flagged by a lead, resolved two weeks earlier and never reviewed: still picked.
    older = resolved(customer_a, agent, at=WEEK - timedelta(days=10))
    services.flag_ticket(older, actor=lead, note="Customer escalated to the CEO")
    with time_machine.travel(TUESDAY_AFTER, tick=False):
        assert services.run_weekly_sampling() == 4 + 5
    flagged = {r.ticket_id: r.flag_reasons for r in Review.objects.filter(source="flagged")}
    assert flagged == {reopened.pk: "reopened", breached.pk: "SLA breached",
                       low.pk: "low CSAT", older.pk: "flagged by a lead"}
    sampled = set(Review.objects.filter(source="sample").values_list("ticket_id", flat=True))
    assert sampled <= {t.pk for t in plain} and len(sampled) == 5


def test_sla_breach_mark_outlives_the_clock(customer_a, agent, reviewer):
    ticket = resolved(customer_a, agent, at=IN_WEEK - timedelta(days=1), status="in_progress")
    ticket.sla_due_at, ticket.sla_level = IN_WEEK - timedelta(hours=3), "breach"
    ticket.save()
    with time_machine.travel(IN_WEEK - timedelta(hours=1), tick=False):
        assert services.sweep_sla_breaches() == 1
        assert services.sweep_sla_breaches() == 0  # marked once
    # Resolved later: the sla app clears the level, the QA mark stays.
    ticket.status, ticket.resolved_at, ticket.sla_level = "resolved", IN_WEEK, ""
    ticket.save()
    with time_machine.travel(TUESDAY_AFTER, tick=False):
        services.run_weekly_sampling()
    assert Review.objects.get(ticket=ticket).flag_reasons == "SLA breached"
    assert QAFlag.objects.filter(ticket=ticket).count() == 1


def test_reviews_are_never_assigned_to_the_agent_reviewed(customer_a, reviewer):
    # The only QA reviewer handled the ticket: it waits unassigned instead.
    resolved(customer_a, reviewer, at=IN_WEEK, team=team("l1-general"))
    with time_machine.travel(TUESDAY_AFTER, tick=False):
        assert services.run_weekly_sampling() == 1
    review = Review.objects.get()
    assert review.agent == reviewer and review.reviewer is None


def test_reviewers_get_balanced_load(customer_a, agent, reviewer, reviewer2):
    for _ in range(6):
        resolved(customer_a, agent, at=IN_WEEK)
    with time_machine.travel(TUESDAY_AFTER, tick=False):
        services.run_weekly_sampling()
    counts = sorted(Review.objects.values_list("reviewer_id", flat=True))
    assert counts.count(reviewer.pk) in (2, 3) and counts.count(reviewer2.pk) in (2, 3)


def test_sampled_review_can_be_scored(customer_a, agent, reviewer, card):
    resolved(customer_a, agent, at=IN_WEEK)
    with time_machine.travel(TUESDAY_AFTER, tick=False):
        services.run_weekly_sampling()
    review = Review.objects.get()
    review = services.submit_review(review, actor=reviewer, data=picks(card))
    assert review.score == 100


def test_low_rating_arriving_after_the_week_of_resolution_still_flags(customer_a, agent,
                                                                     reviewer):
    # Resolved the week before; the customer answered the survey this week with a 1.
    ticket = resolved(customer_a, agent, at=WEEK - timedelta(days=2))
    Survey.objects.create(ticket=ticket, resolution=0, requester=customer_a, agent=agent,
                          status=Survey.Status.RESPONDED, rating=1, scheduled_for=WEEK,
                          responded_at=IN_WEEK)
    # A low rating that arrived in the previous week belonged to that week's sample.
    stale = resolved(customer_a, agent, at=WEEK - timedelta(days=3))
    Survey.objects.create(ticket=stale, resolution=0, requester=customer_a, agent=agent,
                          status=Survey.Status.RESPONDED, rating=1, scheduled_for=WEEK,
                          responded_at=WEEK - timedelta(days=1))
    with time_machine.travel(TUESDAY_AFTER, tick=False):
        assert services.run_weekly_sampling() == 1
    review = Review.objects.get()
    assert (review.ticket, review.source, review.flag_reasons) == (ticket, "flagged",
                                                                   "low CSAT")

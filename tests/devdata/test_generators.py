"""The generators of every app (helpdesk/generators.py), on a small seeded history: each
app's rows agree with the tickets' own history, and the same seed gives the same data."""
from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count, F, Max, Min, Q

from casework.models import Evidence, FeedbackMention, Investigation
from devdata.seeding import SeedOptions, seed
from helpdesk import generators
from helpdesk.models import Membership
from incidents.models import Incident, IncidentTicket, PublicUpdate, TimelineEntry
from knowledge.models import Article, ArticleVersion, SearchLog, Visit
from mailgate.models import InboundMessage, OutboundEmail
from qa.models import CalibrationSession, Dispute, Review, SampleRun
from reporting.models import MetricsHour
from sla.models import Clock, ClockEvent, ClockLevelFire, ClockPause
from tickets.models import (
    Escalation,
    FollowUp,
    Message,
    Survey,
    Ticket,
    TicketEvent,
    TimeEntry,
)
from tickets.state_machine import Status
from workforce.models import AgentStatus, Page, ScheduledShift, TimeOff

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
DONE = [Status.RESOLVED.value, Status.CLOSED.value]


@pytest.fixture(scope="module")
def history(django_db_setup, django_db_blocker):
    """400 tickets with every generator, seeded once for the module in a transaction that
    is rolled back after it (each test runs in a savepoint inside it): a flush would also
    remove the rows that data migrations ship, which later modules rely on."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield seed(SeedOptions(tickets=400, seed=21, now=NOW, open_share=0.08))
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


pytestmark = pytest.mark.django_db


def test_every_app_contributes_its_generator():
    names = [g.name for g in generators.registered()]
    for name in ("sla", "surveys", "timetracking", "knowledge", "workforce", "mailgate",
                 "qa", "incidents", "casework", "reporting"):
        assert name in names
    assert names[-1] == "reporting"  # the rollup is built last, over everything


def test_rows_per_table_and_time_per_app_are_reported(history):
    for table in ("sla_clock", "sla_clockevent", "tickets_survey", "tickets_timeentry",
                  "knowledge_article", "knowledge_searchlog", "workforce_scheduledshift",
                  "mailgate_inboundmessage", "tickets_metricshour"):
        assert history.tables.get(table, 0) > 0, table
    assert {"sla", "surveys", "timetracking", "knowledge", "workforce"} <= set(history.apps)
    assert history.tables["sla_clock"] == Clock.objects.count()


def test_sla_clocks_follow_each_ticket(history):
    tickets = Ticket.objects.count()
    assert Clock.objects.filter(metric="first_response").count() == tickets
    assert Clock.objects.filter(metric="resolution", cycle=1).count() == tickets
    # Nothing before the ticket existed, nothing after "now".
    assert not Clock.objects.filter(started_at__lt=F("ticket__created_at")).exists()
    assert not ClockEvent.objects.filter(at__lt=F("ticket__created_at")).exists()
    assert not ClockEvent.objects.filter(at__gt=NOW).exists()
    # Completed where the ticket is done, active where it is open.
    done_open = Clock.objects.filter(metric="resolution", ticket__status__in=DONE,
                                     completed_at__isnull=True)
    assert not done_open.exists()
    assert not Clock.objects.filter(completed_at__isnull=False).exclude(
        ticket__status__in=DONE).filter(metric="resolution", cycle=1,
                                        ticket__reopen_count=0).exists()
    # First responses met at the ticket's first response.
    met = Clock.objects.filter(metric="first_response", state="met")
    assert met.exists()
    assert not met.exclude(met_at=F("ticket__first_response_at")).exists()
    # Realistic shares: most met, some breached, each breach with its 100 % level fired.
    completed = Clock.objects.filter(completed_at__isnull=False, state__in=["met", "breached"])
    breached = completed.filter(state="breached")
    share = breached.count() / completed.count()
    assert 0.01 < share < 0.25
    assert not breached.exclude(fired_levels__percent=100).exists()
    assert not breached.filter(breached_at__isnull=True).exists()
    assert ClockLevelFire.objects.filter(scheduled_at__gt=F("fired_at")).count() == 0
    # Pauses only while the ticket waited on the customer.
    waits = TicketEvent.objects.filter(kind="status", after=Status.WAITING_ON_CUSTOMER.value)
    assert ClockPause.objects.exists() and waits.exists()
    for pause in ClockPause.objects.select_related("clock")[:50]:
        assert waits.filter(ticket_id=pause.ticket_id, created_at=pause.started_at).exists()


def test_open_tickets_carry_their_earliest_due_time(history):
    for ticket in Ticket.objects.exclude(status__in=DONE).filter(sla_due_at__isnull=False):
        due = Clock.objects.filter(ticket=ticket, completed_at__isnull=True,
                                   state__in=["running", "breached"]).aggregate(
            m=Min("due_at"))["m"]
        assert ticket.sla_due_at == due


def test_surveys_only_after_resolution(history):
    surveys = Survey.objects.select_related("ticket")
    assert surveys.exists()
    assert not surveys.exclude(ticket__status__in=DONE).exists()
    for survey in surveys:
        assert survey.scheduled_for >= survey.ticket.created_at + timedelta(hours=2)
    assert not surveys.filter(ticket__reopen_count=0, resolution__gt=0).exists()
    sent = surveys.filter(status__in=["sent", "responded"])
    responded = surveys.filter(status="responded")
    assert 0.1 < responded.count() / sent.count() < 0.45  # about a quarter answer
    assert not responded.filter(Q(responded_at__lt=F("sent_at")) | Q(rating__isnull=True)
                                | Q(responded_at__gt=NOW)).exists()
    ratings = dict(responded.values_list("rating").annotate(n=Count("id")))
    assert max(ratings, key=ratings.get) == 5  # skewed to the top, as CSAT is
    # A follow-up for every low score, and only for those.
    assert FollowUp.objects.count() == responded.filter(rating__lte=2).count()
    assert not FollowUp.objects.filter(survey__rating__gt=2).exists()


def test_time_entries_match_the_replies(history):
    entries = TimeEntry.objects.select_related("message")
    assert entries.count() >= Message.objects.filter(by_agent=True).count()
    for entry in entries.filter(message__isnull=False)[:200]:
        assert entry.message.ticket_id == entry.ticket_id
        assert entry.message.author_id == entry.agent_id
        assert entry.ended_at == entry.message.created_at
        assert entry.started_at == entry.ended_at - timedelta(minutes=entry.minutes)
    # Each category has its own handle-time distribution: API errors take longer to
    # answer than how-to questions.
    def mean(slug: str) -> float:
        minutes = list(TimeEntry.objects.filter(
            ticket__category__slug=slug, message__is_public=True,
            message__by_agent=True).values_list("minutes", flat=True))
        return sum(minutes) / len(minutes)

    assert mean("api-errors") > 1.5 * mean("how-to")


def test_every_agent_has_shifts_and_one_open_status(history):
    agents = set(Membership.objects.values_list("user_id", flat=True))
    with_shifts = set(ScheduledShift.objects.values_list("agent_id", flat=True))
    assert agents and agents <= with_shifts
    assert not ScheduledShift.objects.filter(ends_at__lte=F("starts_at")).exists()
    assert ScheduledShift.objects.filter(starts_at__gt=NOW).exists()  # the weeks ahead
    for off in TimeOff.objects.filter(status="approved"):
        assert not ScheduledShift.objects.filter(
            agent_id=off.agent_id, starts_at__lt=off.ends_at, ends_at__gt=off.starts_at,
            starts_at__gte=off.starts_at).exists()
    open_statuses = AgentStatus.objects.filter(ended_at__isnull=True)
    assert open_statuses.count() == open_statuses.values("agent_id").distinct().count()
    assert not AgentStatus.objects.filter(ended_at__lte=F("started_at")).exists()
    for page in Page.objects.select_related("ticket"):
        assert page.ticket.priority <= 2
        assert page.acknowledged_at is None or page.acknowledged_at > page.created_at


def test_help_center_history(history):
    assert Article.objects.count() >= 300
    assert ArticleVersion.objects.count() > Article.objects.count()
    searches = SearchLog.objects.count()
    zero = SearchLog.objects.filter(result_count=0).count()
    assert 0.04 < zero / searches < 0.25
    filed = Visit.objects.filter(ticket__isnull=False)
    assert filed.exists()
    assert not filed.filter(started_at__gt=F("ticket__created_at")).exists()
    assert not filed.exclude(ticket__requester_id=F("user_id")).exists()
    assert Visit.objects.filter(solved_at__isnull=False, ticket__isnull=True).exists()
    assert Article.objects.filter(view_count__gt=0).exists()


def test_email_rows_for_email_tickets_only(history):
    assert InboundMessage.objects.exists() and OutboundEmail.objects.exists()
    assert not InboundMessage.objects.exclude(ticket__channel="email").exists()
    assert not InboundMessage.objects.exclude(
        ticket_message__author_id=F("ticket__requester_id")).exists()
    replies = OutboundEmail.objects.filter(kind="reply")
    assert not replies.exclude(ticket_message__by_agent=True).exists()
    assert not replies.exclude(ticket_message__is_public=True).exists()


def test_qa_weekly_samples_reviews_and_calibration(history):
    reviews = Review.objects.select_related("ticket")
    assert reviews.exists()
    assert not reviews.exclude(ticket__status__in=DONE).exists()
    assert not reviews.filter(Q(score__lt=0) | Q(score__gt=100)).exists()
    weeks = set(reviews.values_list("week_start", flat=True))
    assert len(weeks) >= 20 and all(week.weekday() == 0 for week in weeks)
    assert SampleRun.objects.filter(week_start__in=weeks).count() == len(weeks)
    for review in reviews.exclude(status="assigned")[:100]:
        assert review.submitted_at >= review.ticket.resolved_at
        assert review.scores.count() > 0
    # Scores look like a working team's: mostly good, some below target.
    submitted = reviews.exclude(score__isnull=True)
    average = sum(r.score for r in submitted) / submitted.count()
    assert 75 < average < 95
    assert not Dispute.objects.exclude(review__status__in=["disputed", "resolved"]).exists()
    assert CalibrationSession.objects.filter(status="closed").exists()


def test_incidents_about_weekly_with_their_tickets(history):
    weeks = 6 * 30.44 / 7
    assert 0.6 * weeks < Incident.objects.count() < 1.4 * weeks
    for link in IncidentTicket.objects.select_related("incident", "ticket"):
        assert link.ticket.created_at >= link.incident.declared_at
        if link.incident.resolved_at:
            assert link.ticket.created_at <= link.incident.resolved_at
    assert IncidentTicket.objects.exists()
    assert not TimelineEntry.objects.filter(created_at__lt=F("incident__declared_at")).exists()
    assert PublicUpdate.objects.filter(kind="initial").count() == Incident.objects.count()


def test_casework_on_escalated_tickets(history):
    investigations = Investigation.objects.select_related("ticket")
    assert investigations.exists()
    escalated = set(Escalation.objects.values_list("ticket_id", flat=True))
    assert set(investigations.values_list("ticket_id", flat=True)) <= escalated
    assert not investigations.filter(assigned_at__lt=F("ticket__created_at")).exists()
    assert not Evidence.objects.filter(
        created_at__lt=F("investigation__assigned_at")).exists()
    assert FeedbackMention.objects.filter(ticket__category__slug="feature-request").exists()


def test_metrics_rollup_built_last(history):
    assert MetricsHour.objects.exists()


def test_same_seed_same_history(db):
    """Two runs of the same seed on one database: the second run's rows repeat the
    first's, ticket by ticket (ids, user names and slugs differ)."""
    def top(model) -> int:
        return model.objects.aggregate(m=Max("pk"))["m"] or 0

    marks = []
    reports = []
    for _ in range(2):
        marks.append((top(Ticket), top(ScheduledShift)))
        reports.append(seed(SeedOptions(tickets=80, seed=4, now=NOW)))
    assert reports[0].tables == reports[1].tables

    def snapshot(ticket_mark: int, shift_mark: int) -> dict[str, list]:
        ids = list(Ticket.objects.filter(pk__gt=ticket_mark).order_by("pk")
                   .values_list("pk", flat=True)[:80])
        index = {pk: i for i, pk in enumerate(ids)}
        return {
            "clocks": sorted((index[t], m, c, s, u, d) for t, m, c, s, u, d in
                             Clock.objects.filter(ticket_id__in=ids).values_list(
                                 "ticket_id", "metric", "cycle", "state", "business_used",
                                 "due_at")),
            "surveys": sorted((index[t], s, r, n) for t, s, r, n in
                              Survey.objects.filter(ticket_id__in=ids).values_list(
                                  "ticket_id", "status", "rating", "nps")),
            "time": sorted((index[t], m) for t, m in TimeEntry.objects.filter(
                ticket_id__in=ids).values_list("ticket_id", "minutes")),
            "visits": sorted((index[t], q) for t, q in Visit.objects.filter(
                ticket_id__in=ids).values_list("ticket_id", "first_query")),
            "shifts": list(ScheduledShift.objects.filter(pk__gt=shift_mark).order_by("pk")
                           .values_list("starts_at", "ends_at")[:500]),
        }

    one, two = snapshot(*marks[0]), snapshot(*marks[1])
    assert one["clocks"] and one["surveys"] and one["time"] and one["shifts"]
    assert one == two


@pytest.mark.parametrize("name", ["sla", "surveys", "timetracking", "knowledge", "workforce",
                                  "mailgate", "qa", "incidents", "casework", "reporting"])
def test_each_generator_runs_alone(db, name):
    others = tuple(g.name for g in generators.registered() if g.name != name)
    report = seed(SeedOptions(tickets=60, seed=2, now=NOW, skip=others))
    written = {table for table, n in report.tables.items() if n} - {
        "tickets_ticket", "tickets_message", "tickets_ticketevent", "tickets_escalation"}
    assert written, name
    assert set(report.apps) == {name}


def test_seed_data_command_takes_now_and_skip(db):
    out = io.StringIO()
    top = Ticket.objects.aggregate(m=Max("pk"))["m"] or 0  # (the module's history may exist)
    clocks = Clock.objects.count()
    call_command("seed_data", tickets=40, seed=3, now="2026-03-01T00:00Z", skip="all",
                 stdout=out)
    new = Ticket.objects.filter(pk__gt=top)
    assert new.count() == 40
    assert new.aggregate(m=Max("created_at"))["m"] < datetime(2026, 3, 1, tzinfo=UTC)
    assert Clock.objects.count() == clocks  # every generator skipped
    text = out.getvalue()
    assert "Rows per table:" in text and "tickets_ticket" in text

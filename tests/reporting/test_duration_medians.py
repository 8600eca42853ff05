"""The manager dashboard's medians of first response and resolution, read from the daily
duration histograms (`reporting.durations`), equal the exact medians within the stated
precision (a minute below a day, an hour above): for whole UTC days, periods whose edges
fall inside a day (another time zone), a team, a period running past the rolled-up
hours, and after late changes (a reopen, a deleted ticket, a first reply) folded in by
the five-minute sync. Runs on SQLite and PostgreSQL (the bucketing is SQL).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from reporting import durations, metrics, rollups
from reporting.models import DurationDay
from reporting.views import manager_medians_values
from tickets import services
from tickets.models import Message, Ticket

from ..factories import make_ticket

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 20, 10, 30, tzinfo=UTC)
DAY = timedelta(days=1)


def tolerance(exact: timedelta) -> timedelta:
    return timedelta(minutes=1) if exact < DAY else timedelta(hours=1)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False), timezone.override("UTC"):
        yield


@pytest.fixture
def history(customer_a, agent, l1, l2):
    """240 tickets over the 30 days before NOW: first responses from seconds to three
    days, resolutions from minutes to three weeks (some open), two teams. Seeded."""
    rng = random.Random(20)
    template = make_ticket(customer_a, subject="Template")
    Message.objects.filter(ticket=template).delete()
    rows = []
    for i in range(240):
        created = NOW - timedelta(days=30) + timedelta(seconds=rng.randrange(30 * 86400))
        frt = timedelta(
            seconds=rng.choice(
                [rng.randrange(3600), rng.randrange(86400), rng.randrange(3 * 86400)]
            )
        )
        ttr = timedelta(seconds=rng.choice([rng.randrange(600, 86400), rng.randrange(21 * 86400)]))
        responded = created + frt if created + frt < NOW and i % 7 else None
        resolved = created + ttr if created + ttr < NOW and i % 5 else None
        rows.append(
            Ticket(
                requester=customer_a,
                organization=template.organization,
                subject=f"H{i}",
                description="",
                channel="web",
                priority=template.priority,
                team=l1 if i % 3 else l2,
                assignee=agent,
                status="resolved" if resolved else "in_progress",
                created_at=created,
                updated_at=created,
                status_changed_at=created,
                first_response_at=responded,
                resolved_at=resolved,
            )
        )
    Ticket.objects.bulk_create(rows)
    template.delete()
    with time_machine.travel(NOW, tick=False):
        rollups.rebuild(days=40)
    return {"l1": l1, "l2": l2}


def assert_within(manager, filters):
    fast = durations.medians(filters, user=manager, now=NOW)
    assert fast is not None, "the histograms should serve these filters"
    slow = metrics.medians(filters, user=manager, now=NOW)
    for name in ("frt", "ttr"):
        assert slow[name] is not None
        assert abs(fast[name] - slow[name]) <= tolerance(slow[name]), (name, fast, slow)
    assert fast["backlog_age"] == slow["backlog_age"]
    return fast, slow


def F(start, end, **kw):
    return metrics.MetricFilters(start=start, end=end, **kw)


def test_bucket_bounds_hold_the_duration():
    for seconds in (0, 59, 60, 3599, 3600, 86399, 86400, 86400 + 3599, 90000, 40 * 86400 + 7):
        bucket = seconds // 60 if seconds < 86400 else 1440 + (seconds - 86400) // 3600
        lower, width = durations.bounds(*durations.split(bucket))
        assert lower <= seconds < lower + width
        assert width == (60 if seconds < 86400 else 3600)
    # Coarse then fine order is the order of durations.
    pairs = [durations.split(b) for b in range(0, 3000)]
    assert pairs == sorted(pairs)


def test_rollup_medians_equal_the_exact_medians_within_precision(history, manager):
    assert DurationDay.objects.exists()
    start = datetime(2026, 2, 24, tzinfo=UTC)
    # Whole UTC days, wholly rolled up: only the stored rows and no live edge.
    assert durations.stored_days(
        start, start + 20 * DAY, rollups.MetricsRollupState.objects.get()
    ) == (start.date(), (start + 20 * DAY).date())
    assert_within(manager, F(start, start + 20 * DAY))
    # Past the rolled-up hours (today is live), and one team.
    assert_within(manager, F(start, NOW + DAY))
    assert_within(manager, F(start, NOW + DAY, team_id=history["l2"].pk))
    assert_within(manager, F(start + 3 * DAY, start + 12 * DAY, team_id=history["l1"].pk))
    # A period in another zone: its edges fall inside UTC days (read live).
    zone = ZoneInfo("America/Los_Angeles")
    local = datetime(2026, 2, 25, tzinfo=zone)
    assert_within(manager, F(local, local + 14 * DAY))
    # Shorter than a day: all live.
    assert_within(manager, F(start + DAY + timedelta(hours=5), start + 2 * DAY))


def test_filters_and_viewers_the_histograms_do_not_hold_are_exact(history, manager, agent):
    start = datetime(2026, 2, 24, tzinfo=UTC)
    assert durations.medians(F(start, NOW, priority=2), user=manager, now=NOW) is None
    assert durations.medians(F(start, NOW), user=agent, now=NOW) is None
    # Before the rolled-up window: exact.
    assert durations.medians(F(NOW - 60 * DAY, NOW), user=manager, now=NOW) is None
    values = manager_medians_values(F(start, NOW, priority=2), user=manager, now=NOW)
    assert "precision" not in values


def sync_after(minutes):
    with time_machine.travel(NOW + timedelta(minutes=minutes), tick=False):
        rollups.sync()


def test_late_changes_reach_the_histograms(history, manager, agent):
    start = datetime(2026, 2, 24, tzinfo=UTC)
    period = F(start, start + 20 * DAY)
    assert_within(manager, period)
    # Reopen the tickets resolved on one stored day, delete those created on another, give
    # a first reply to the unanswered ones of a third: each moves a median's input.
    day = start + 5 * DAY
    reopened = list(Ticket.objects.filter(resolved_at__gte=day, resolved_at__lt=day + DAY))
    assert reopened
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        for t in reopened:
            services.transition(t, "in_progress", actor=agent, reason="Still broken")
    gone = Ticket.objects.filter(created_at__gte=start + 8 * DAY, created_at__lt=start + 9 * DAY)
    assert gone.exists()
    with time_machine.travel(NOW + timedelta(minutes=2), tick=False):
        gone.delete()
    late = Ticket.objects.filter(
        created_at__gte=start + 11 * DAY,
        created_at__lt=start + 12 * DAY,
        first_response_at__isnull=True,
    )
    with time_machine.travel(NOW + timedelta(minutes=3), tick=False):
        late.update(first_response_at=NOW + timedelta(minutes=3), updated_at=timezone.now())
    counts_before = DurationDay.objects.filter(day=day.date(), metric="ttr").count()
    sync_after(5)
    assert (
        DurationDay.objects.filter(day=day.date(), metric="ttr").count() != counts_before
        or not Ticket.objects.filter(resolved_at__gte=day, resolved_at__lt=day + DAY).exists()
    )
    assert_within(manager, period)
    # Every duration counted once: the stored totals are the tickets now.
    for metric, tickets in (
        ("ttr", Ticket.objects.filter(resolved_at__gte=start, resolved_at__lt=start + 20 * DAY)),
        (
            "frt",
            Ticket.objects.filter(
                created_at__gte=start,
                created_at__lt=start + 20 * DAY,
                first_response_at__isnull=False,
            ),
        ),
    ):
        stored = sum(
            DurationDay.objects.filter(
                metric=metric, day__gte=start.date(), day__lt=(start + 20 * DAY).date()
            ).values_list("n", flat=True)
        )
        assert stored == tickets.count(), metric


def test_medians_endpoint_states_the_precision(client, history, manager):
    client.force_login(manager)
    qs = "?start=2026-02-24&end=2026-03-15"
    html = client.get(reverse("metrics:manager_medians") + qs).content.decode()
    assert 'id="median-precision"' in html and str(durations.PRECISION) in html
    page = client.get(reverse("metrics:manager") + qs).content.decode()
    assert '<span id="median-precision"></span>' in page


def test_medians_read_a_constant_number_of_queries(history, manager, django_assert_max_num_queries):
    start = datetime(2026, 2, 24, tzinfo=UTC)
    with django_assert_max_num_queries(12):
        durations.medians(F(start, NOW + DAY), user=manager, now=NOW)

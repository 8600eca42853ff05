"""What the fast seeding must keep: the same seed gives the same rows in every app's
tables (a digest per table), another seed other rows; the PostgreSQL bulk load's index
drop and rebuild gives back the very same indexes; and the generated history stays
believable (shifts cover the arrival curve around the clock, a few at-risk alerts)."""
from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django.db.models import Count

from casework.devdata import ALERT_SHARE
from casework.models import AtRiskAlert
from devdata.checksum import table_digests, table_marks
from devdata.seeding import DAY_WEIGHTS, HOUR_WEIGHTS, TIME_ZONES, SeedOptions, seed
from helpdesk.bulkload import RowWriter
from tickets.models import Escalation, Ticket, TicketEvent
from workforce.devdata import MIN_ON_SHIFT, TEMPLATES, _plan, _week_hours
from workforce.models import ShiftTemplate

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
DEMAND = tuple(d * h for d in DAY_WEIGHTS for h in HOUR_WEIGHTS)
# A table of every app the generators write: a digest that changes with the seed.
APP_TABLES = ("tickets_ticket", "tickets_message", "sla_clock", "sla_clockevent",
              "tickets_survey", "tickets_timeentry", "knowledge_searchlog",
              "knowledge_visit", "workforce_agentstatus", "qa_review", "incidents_incident",
              "mailgate_outboundemail", "casework_investigation", "tickets_metricshour")


def _rewind_sequences() -> None:
    """PostgreSQL sequences do not roll back: start them after the highest id again, as
    on a fresh database, so a rolled-back run and the next one get the same ids (and the
    same ids inside texts such as "message 123")."""
    if connection.vendor != "postgresql":
        return  # SQLite's sqlite_sequence rolls back with the savepoint
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, s.relname FROM pg_class c JOIN pg_depend d ON d.refobjid = c.oid"
            " JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'"
            " WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace")
        for table, sequence in cursor.fetchall():
            cursor.execute(f'SELECT setval(%s, COALESCE((SELECT MAX(id) FROM "{table}"), 0) + 1,'  # noqa: S608
                           " false)", [sequence])


def _digests(seed_value: int) -> dict[str, tuple[int, str]]:
    """The digests of one run, rolled back after it: the next run sees the same database."""
    with transaction.atomic():
        _rewind_sequences()
        marks = table_marks()
        seed(SeedOptions(tickets=150, seed=seed_value, now=NOW))
        digests = table_digests(marks)
        transaction.set_rollback(True)
    return digests


def test_same_seed_same_rows_in_every_table_other_seed_other_rows():
    one, two, other = _digests(8), _digests(8), _digests(9)
    assert set(APP_TABLES) <= set(one)
    assert all(count for count, _ in one.values())
    assert one == two
    changed = [t for t in APP_TABLES if other.get(t) != one[t]]
    assert changed == list(APP_TABLES)


def test_digest_ignores_rows_written_before_the_marks():
    seed(SeedOptions(tickets=30, seed=1, now=NOW, skip=("all",)))
    marks = table_marks()
    assert table_digests(marks) == {}
    Ticket.objects.filter(pk=marks["tickets_ticket"]).update(subject="changed")
    assert table_digests(marks) == {}  # an old row changed: not the run's


@pytest.mark.skipif(connection.vendor != "postgresql", reason="indexes are dropped on PostgreSQL")
def test_dropped_secondary_indexes_come_back_the_same():
    writer = RowWriter()

    def indexes() -> dict[str, str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s",
                           [TicketEvent._meta.db_table])
            return dict(cursor.fetchall())

    before = indexes()
    dropped = writer.drop_secondary_indexes(TicketEvent)
    names = {name for name, _ in dropped}
    assert names and "event_ticket_time" in names
    left = indexes()
    assert set(left) == set(before) - names
    assert f"{TicketEvent._meta.db_table}_pkey" in left  # unique ones stay
    writer.create_indexes([definition for _, definition in dropped])
    assert indexes() == before


def test_writer_drops_nothing_on_sqlite():
    if connection.vendor == "postgresql":
        pytest.skip("SQLite behaviour")
    assert RowWriter().drop_secondary_indexes(TicketEvent) == []


def _coverage(agents: list[tuple[int, str]]) -> list[int]:
    templates = [ShiftTemplate(name=n, start=s, end=e, break_minutes=30)
                 for n, s, e in TEMPLATES]
    monday = date(2026, 11, 30)
    plan = _plan(templates, agents, DEMAND, monday)
    covered = [0] * 168
    for agent, zone in agents:
        template, off_days = plan[agent]
        for hour in _week_hours(template, ZoneInfo(zone), monday, off_days):
            covered[hour] += 1
    return covered


@pytest.mark.parametrize("size", [8, 12, 40])
def test_shifts_cover_every_hour_of_the_week(size):
    """Agents in the generator's time zones cover every UTC hour, Monday's early hours
    included, and the busy weekday hours more than the quiet weekend nights."""
    covered = _coverage([(i, TIME_ZONES[i % len(TIME_ZONES)]) for i in range(size)])
    assert min(covered) >= 1
    assert min(covered[:6]) >= 1  # Monday 00:00-06:00 UTC
    if size >= 40:
        assert min(covered) >= MIN_ON_SHIFT
        busy = covered[24 + 14]  # Tuesday 14:00 UTC
        quiet = covered[6 * 24 + 3]  # Sunday 03:00 UTC
        assert busy > 2 * quiet


def test_shifts_of_agents_in_one_zone_follow_the_demand_around_the_clock():
    covered = _coverage([(i, "Europe/Berlin") for i in range(12)])
    assert min(covered) >= 1  # night shifts where nobody lives in daytime


def test_at_risk_alerts_are_a_few_percent_of_escalations():
    """The accounts with most escalations in a week raise alerts, not every account with
    three: about 2 % of the week's L2+ tickets, at least the worst one."""
    seed(SeedOptions(tickets=1500, seed=6, now=NOW, open_share=0.1,
                     skip=("sla", "knowledge", "qa", "mailgate", "surveys", "timetracking",
                           "reporting", "incidents", "workforce")))
    escalated: dict[str, int] = {}
    for created in Ticket.objects.filter(escalations__kind=Escalation.Kind.TIER).distinct(
            ).values_list("created_at", flat=True):
        year, week, _ = date.fromtimestamp(created.timestamp()).isocalendar()
        key = f"{year}-W{week:02d}"
        escalated[key] = escalated.get(key, 0) + 1
    per_week = dict(AtRiskAlert.objects.values_list("period").annotate(n=Count("pk")))
    assert per_week
    for period, n in per_week.items():
        assert n <= max(1, round(ALERT_SHARE * escalated.get(period, 0))), period


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the bulk path is PostgreSQL's")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_bulk_load_in_three_processes_writes_every_apps_history():
    """The big-load path on a small run: indexes dropped and rebuilt, tickets and the SLA
    generator in processes of their own, the SLA state back for the queue columns."""
    from sla.models import Clock

    def index_names() -> set[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
            return {row[0] for row in cursor.fetchall()}

    before = index_names()
    log: list[str] = []
    report = seed(SeedOptions(tickets=400, seed=3, now=NOW, bulk_from=0, open_share=0.1),
                  log=log.append)
    assert any("second process" in line for line in log)
    assert any("indexes:" in line and "rebuilt" in line for line in log)
    assert index_names() == before
    assert Ticket.objects.count() >= 400
    assert report.tables["sla_clock"] == Clock.objects.count() > 400
    assert report.apps["sla"] > 0 and report.apps["surveys"] > 0
    open_tickets = Ticket.objects.filter(resolved_at__isnull=True)
    assert open_tickets.exists()
    assert open_tickets.filter(sla_due_at__isnull=False).exists()  # sla.finish, child's state
    assert not Ticket.objects.exclude(pk__in=Clock.objects.values("ticket_id")).filter(
        pk__gte=min(Clock.objects.values_list("ticket_id", flat=True))).exists()

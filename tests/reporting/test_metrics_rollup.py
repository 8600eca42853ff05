# ruff: noqa: F811  (the `data` fixture is shared with test_metrics)
"""The hourly rollup behind the manager dashboard gives the figures the live formulas give.

Same fixed data set as test_metrics (see its docstring); the rollup is built while "now"
is 2026-01-20 10:00 UTC, then read instead of scanning tickets.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from reporting import metrics, rollups
from reporting.models import MetricsHour
from reporting.views import manager_figures
from tickets.models import Priority, Ticket

from ..factories import make_ticket
from .test_metrics import END, NOW, QS, START, F, at, data  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False), timezone.override("UTC"):
        yield


def live(manager, filters=None):
    """The live figures, bypassing the rollup."""
    state = rollups.MetricsRollupState.objects.filter(pk=1)
    saved = list(state.values())
    state.delete()
    try:
        return manager_figures(manager, filters or F())
    finally:
        if saved:
            rollups.MetricsRollupState.objects.create(**saved[0])


def comparable(fig):
    keep = ("sla", "csat", "quality", "escalation", "productivity", "backlog_start",
            "backlog_end", "backlog_score", "health")
    out = {k: fig[k] for k in keep}
    out["frt"] = {k: fig["frt"][k] for k in ("created", "responded")}
    out["frt_mean"] = round(fig["frt"]["mean"].total_seconds())
    out["ttr"] = (fig["ttr"]["resolved"], round(fig["ttr"]["mean"].total_seconds()))
    out["open"] = fig["backlog"]["open"]
    out["weeks"] = [{**w, "frt_mean": w["frt_mean"] and round(w["frt_mean"].total_seconds())}
                    for w in fig["weeks"]]
    out["teams"] = fig["teams"]
    return out


def test_rollup_figures_equal_the_live_formulas(data, manager):
    rollups.rebuild(days=40)
    fast = rollups.manager_from_rollup(F(), user=manager, now=NOW)
    assert fast is not None and fast["from_rollup"]
    slow = live(manager)
    assert "from_rollup" not in slow
    assert comparable(fast) == comparable(slow)
    # The hand-computed values of test_metrics, through the rollup.
    assert (fast["csat"]["csat"], fast["csat"]["nps"]) == (50.0, 25.0)
    assert fast["frt"]["mean"] == timedelta(hours=3)  # (1 + 3 + 2 + 6) ÷ 4
    assert (fast["quality"]["fcr"], fast["quality"]["reopened"]) == (1, 1)
    assert (fast["escalation"]["escalated"], fast["escalation"]["created"]) == (1, 5)
    assert (fast["sla"]["met"], fast["sla"]["breached"]) == (2, 1)
    assert [w["label"] for w in fast["weeks"]] == ["2026-W02", "2026-W03"]


def test_team_filter_is_served_by_the_rollup(data, manager, l2):
    rollups.rebuild(days=40)
    fast = rollups.manager_from_rollup(F(team_id=l2.pk), user=manager, now=NOW)
    assert fast is not None
    assert comparable(fast) == comparable(live(manager, F(team_id=l2.pk)))
    assert (fast["frt"]["created"], fast["quality"]["resolved"]) == (2, 1)  # T3, T4; T3


def test_other_filters_and_limited_viewers_are_computed_live(data, manager, lead):
    rollups.rebuild(days=40)
    assert rollups.manager_from_rollup(F(priority=Priority.P3), user=manager, now=NOW) is None
    assert rollups.manager_from_rollup(F(channel="email"), user=manager, now=NOW) is None
    assert rollups.manager_from_rollup(F(), user=lead, now=NOW) is None


def test_without_a_rollup_the_dashboard_is_computed_live(data, manager):
    assert rollups.manager_from_rollup(F(), user=manager, now=NOW) is None
    assert "from_rollup" not in manager_figures(manager, F())


def test_a_local_time_zone_period_is_summed_from_utc_hours(data, manager):
    rollups.rebuild(days=40)
    zone = "America/New_York"
    with timezone.override(zone):
        tz = timezone.get_current_timezone()
        filters = metrics.MetricFilters(start=datetime(2026, 1, 5, tzinfo=tz),
                                        end=datetime(2026, 1, 19, tzinfo=tz))
        fast = rollups.manager_from_rollup(filters, user=manager, now=NOW)
        assert fast is not None
        assert comparable(fast) == comparable(live(manager, filters))


def test_hours_after_the_rollup_are_read_live(data, manager, customer_a, l1):
    with time_machine.travel(at(1, 12, 0), tick=False):
        rollups.rebuild(days=40)
    # T5 (created Jan 12 10:00) is after the rollup's last hour: still counted.
    state = rollups.MetricsRollupState.objects.get()
    assert state.covered_to == at(1, 12, 0)
    fast = rollups.manager_from_rollup(F(), user=manager, now=NOW)
    assert comparable(fast) == comparable(live(manager))


def test_sync_folds_in_changes_to_rolled_up_hours(data, manager, agent):
    rollups.rebuild(days=40)
    t5 = data["T5"]
    # T5 gets its first answer 4 h after creation: a change to an hour already rolled up.
    Ticket.objects.filter(pk=t5.pk).update(first_response_at=t5.created_at + timedelta(hours=4),
                                           updated_at=NOW + timedelta(minutes=1))
    before = rollups.manager_from_rollup(F(), user=manager, now=NOW)
    assert before["frt"]["responded"] == 4  # not yet folded in
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        rollups.sync()
        after = rollups.manager_from_rollup(F(), user=manager, now=timezone.now())
        assert after["frt"]["responded"] == 5
        assert after["frt"]["mean"] == timedelta(hours=(1 + 3 + 2 + 6 + 4) / 5)
        assert comparable(after) == comparable(live(manager))


def test_sync_extends_the_window_and_resumes_when_capped(data, manager, customer_a,
                                                         monkeypatch):
    with time_machine.travel(at(1, 10, 0), tick=False):
        rollups.rebuild(days=40)
    monkeypatch.setattr(rollups, "MAX_HOURS_PER_SYNC", 20)
    with time_machine.travel(NOW, tick=False):
        rollups.sync()
        state = rollups.MetricsRollupState.objects.get()
        assert state.covered_to == at(1, 10, 0) + timedelta(hours=20)
        runs = 1
        while state.covered_to < at(1, 20, 10) and runs < 30:  # 240 hours, ≤ 20 per run
            rollups.sync()
            state.refresh_from_db()
            runs += 1
        assert state.covered_to == at(1, 20, 10) and 12 <= runs < 30
        assert comparable(rollups.manager_from_rollup(F(), user=manager, now=NOW)) == \
            comparable(live(manager))


def test_a_new_ticket_reaches_the_rollup_through_sync(data, manager, customer_a):
    rollups.rebuild(days=40)
    with time_machine.travel(at(1, 20, 11), tick=False):
        make_ticket(customer_a, subject="Later")
    with time_machine.travel(at(1, 20, 12, ), tick=False):
        rollups.sync()
    rows = MetricsHour.objects.filter(hour=at(1, 20, 11))
    assert sum(r.created for r in rows) == 1


def test_manager_page_renders_from_the_rollup_and_loads_medians_after(client, data, manager):
    rollups.rebuild(days=40)
    client.force_login(manager)
    page = client.get(reverse("metrics:manager") + QS)
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="health-score">40.0<' in html  # same score as the live dashboard
    assert "computing…" in html and reverse("metrics:manager_medians") in html
    medians = client.get(reverse("metrics:manager_medians") + QS).content.decode()
    # FRT 1, 3, 2, 6 h → 2 h 30 min; resolution T1 1 d, T2 2 d, T3 6 d, T6 11 d → 4 d 0 h.
    assert 'id="median-frt" hx-swap-oob="true">2 h 30 min<' in medians
    assert 'id="median-ttr" hx-swap-oob="true">4 d 0 h<' in medians


def test_medians_endpoint_is_staff_only(client, customer_a):
    client.force_login(customer_a)
    assert client.get(reverse("metrics:manager_medians")).status_code == 404


def test_rebuild_command(data, capsys):
    call_command("rebuild_metrics", "--days", "40")
    assert "hour×team rows over 40 days" in capsys.readouterr().out
    assert MetricsHour.objects.exists()
    assert rollups.MetricsRollupState.objects.get().covered_to == \
        datetime(2026, 1, 20, 10, tzinfo=UTC)


def test_floor_and_ceil_hour():
    t = datetime(2026, 1, 5, 10, 30, tzinfo=UTC)
    assert rollups.floor_hour(t) == datetime(2026, 1, 5, 10, tzinfo=UTC)
    assert rollups.ceil_hour(t) == datetime(2026, 1, 5, 11, tzinfo=UTC)
    assert rollups.ceil_hour(rollups.floor_hour(t)) == rollups.floor_hour(t)
    assert START < END

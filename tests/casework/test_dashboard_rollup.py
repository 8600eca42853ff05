"""The hourly rollup of the casework dashboard gives the figures `selectors.dashboard`
computes from the tickets: every breakdown (totals, per team, per category, per tier),
every filter, and after late changes (evidence verified, a playbook followed, an
engineering link, a ticket reopened, an escalation returned, a playbook deactivated).

The data set is the one of test_dashboard_metrics (its docstring has the table).
"""
from dataclasses import asdict, replace
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from casework import rollup, selectors, services
from casework.models import CaseworkHour, CaseworkStaleHour, Playbook
from tickets import services as ts
from tickets.models import Ticket
from tickets.state_machine import Status

from .conftest import at
from .test_dashboard_metrics import MARCH, dataset  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db
LATER = at(2026, 3, 10, 12)


def comparable(data):
    def fig(f):
        out = asdict(f)
        out["ttfe_seconds"] = None if f.ttfe_seconds is None else round(f.ttfe_seconds, 3)
        return out
    return {"totals": fig(data["totals"]), "by_team": [fig(f) for f in data["by_team"]],
            "by_category": [fig(f) for f in data["by_category"]],
            "by_tier": data["by_tier"], "playbooks_drafted": data["playbooks_drafted"]}


def assert_equal(f):
    fast = rollup.dashboard_from_rollup(f)
    assert fast is not None and fast["from_rollup"]
    assert comparable(fast) == comparable(selectors.dashboard(f))
    return fast


@pytest.fixture
def built(dataset, travel):  # noqa: F811
    travel(LATER)
    rollup.rebuild(days=30)
    return dataset


def filters(l1, l2, api_cat, billing_cat):
    return [MARCH, replace(MARCH, team_id=l1.pk), replace(MARCH, team_id=l2.pk),
            replace(MARCH, category_id=api_cat.pk), replace(MARCH, category_id=billing_cat.pk),
            replace(MARCH, team_id=l2.pk, category_id=api_cat.pk),
            replace(MARCH, start=at(2026, 3, 2)), replace(MARCH, end=at(2026, 3, 3, 10)),
            replace(MARCH, start=at(2026, 3, 3, 10), end=at(2026, 3, 5))]


def test_rollup_equals_the_live_dashboard_for_every_filter(built, l1, l2, api_cat,
                                                           billing_cat):
    fast = assert_equal(MARCH)
    # The hand-computed figures of test_dashboard_metrics, through the rollup.
    assert (fast["totals"].technical, fast["totals"].escalations) == (5, 7)
    assert fast["totals"].repeat_text == "66.7 %"
    tiers = {r["tier"]: r for r in fast["by_tier"]}
    assert (tiers["l1"]["handled"], tiers["l1"]["escalated"]) == (6, 5)
    for f in filters(l1, l2, api_cat, billing_cat):
        assert_equal(f)
    assert CaseworkHour.objects.exists()


def test_hours_after_the_rollup_are_computed_live(dataset, travel, l1, l2, api_cat,  # noqa: F811
                                                  billing_cat):
    travel(at(2026, 3, 3, 11))
    rollup.rebuild(days=5)
    travel(LATER)
    for f in filters(l1, l2, api_cat, billing_cat)[:4]:
        assert_equal(f)


def test_a_period_before_the_rollup_or_off_the_hour_is_computed_live(built):
    assert rollup.dashboard_from_rollup(replace(MARCH, start=at(2026, 1, 1))) is None
    assert rollup.dashboard_from_rollup(
        replace(MARCH, start=at(2026, 3, 2) + timedelta(minutes=30))) is None


def sync(travel, minutes):
    travel(LATER + timedelta(minutes=minutes))
    rollup.sync()


def test_late_casework_and_ticket_changes_are_folded_in(built, travel, l2_agent, l1, l2,
                                                        api_cat, billing_cat):
    t1, t2, t3, t5 = (Ticket.objects.get(pk=built[k].pk) for k in ("t1", "t2", "t3", "t5"))
    travel(LATER + timedelta(minutes=1))
    services.add_evidence(t3, actor=l2_agent, kind="log", summary="Invoice job log",
                          verified=True)
    services.start_playbook(t2, Playbook.objects.get(name="API"), actor=l2_agent)
    services.link_engineering(t1, actor=l2_agent, tracker="jira", key="ENG-9",
                              url="https://jira.example/browse/ENG-9")
    assert CaseworkStaleHour.objects.count() == 3
    sync(travel, 5)
    assert not CaseworkStaleHour.objects.exists()
    fast = assert_equal(MARCH)
    assert (fast["totals"].followed, fast["totals"].evidence_tickets) == (3, 3)
    assert fast["totals"].resolved_without_engineering == 1  # T6 only now
    # T1 reopened, T5 returned to L1 for missing context.
    travel(LATER + timedelta(minutes=6))
    ts.transition(t1, Status.IN_PROGRESS, actor=l2_agent, reason="Back again")
    ts.return_escalation(t5, actor=l2_agent, missing="Which export?")
    sync(travel, 10)
    fast = assert_equal(MARCH)
    assert (fast["totals"].resolved, fast["totals"].returned) == (3, 2)
    for f in filters(l1, l2, api_cat, billing_cat):
        assert_equal(f)


def test_a_playbook_change_rebuilds_the_rollup(built, travel, api_cat):
    travel(LATER + timedelta(minutes=1))
    playbook = Playbook.objects.get(name="API")
    playbook.is_active = False
    playbook.save()
    # Until the rebuild the rollup does not answer: the page is computed live.
    assert rollup.dashboard_from_rollup(MARCH) is None
    sync(travel, 5)
    fast = assert_equal(MARCH)
    assert fast["totals"].recurring == 1  # T5 only: the API playbook no longer counts
    playbook.categories.clear()
    assert rollup.dashboard_from_rollup(MARCH) is None
    sync(travel, 10)
    assert_equal(replace(MARCH, category_id=api_cat.pk))


def test_dashboard_page_reads_the_rollup(client, built, manager):
    client.force_login(manager)
    page = client.get("/casework/dashboard/", {"start": "2026-03-01", "end": "2026-03-31"})
    assert "66.7 %" in page.content.decode() and "14.3 %" in page.content.decode()


def test_rebuild_command(built, capsys):
    call_command("rebuild_casework_rollup", "--days", "30")
    assert "rows over 30 days" in capsys.readouterr().out
    assert rollup.CaseworkRollupState.objects.get().covered_to == timezone.now().replace(
        minute=0, second=0, microsecond=0)

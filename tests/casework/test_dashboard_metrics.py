"""Dashboard figures on a known data set, every number computed by hand.

Six tickets of Acme opened in March 2026 (L1 General auto-assigns Agnes at creation):

ticket category / area     path                                  resolved eng. evidence playbook
T6     API (Mar 1, before  L1 → L2                               yes      no   —        —
       the API playbook)
T1     API                 L1 → L2                               yes      no   +2 h     API
T2     API                 L1 → L2, returned, L1 → L2, L2 → eng. yes      yes  +4 h     —
T3     Billing             L1 → L2, bug tracker link             yes      link —        —
T4     API                 L1 only (not technical)               yes      no   —        —
T5     Billing / Exports   L1 → L2                               no       no   —        Exports

Playbooks (created Mar 2): API (category API), Exports (area Exports), Billing (inactive).
"""
from datetime import timedelta

import pytest
from django.utils import timezone

from casework import selectors, services
from tests.factories import PACKET, make_ticket
from tickets import services as ts
from tickets.models import Ticket
from tickets.state_machine import Status

from .conftest import T0, at, make_playbook


@pytest.fixture
def dataset(travel, customer_a, agent, l2_agent, l1, l2, api_cat, billing_cat, exports_area):
    p_api = make_playbook("API", categories=[api_cat], created_at=T0)
    p_exports = make_playbook("Exports", areas=[exports_area], created_at=T0)
    make_playbook("Billing", categories=[billing_cat], created_at=T0, active=False)

    def new(when, **kw):
        travel(when)
        return make_ticket(customer_a, **kw)

    def escalate(ticket, when, actor=agent, to=l2, engineering=False):
        travel(when)
        return ts.escalate(Ticket.objects.get(pk=ticket.pk), to_team=to, packet=PACKET,
                           actor=actor, engineering=engineering)

    def move(ticket, when, status):
        travel(when)
        return ts.transition(Ticket.objects.get(pk=ticket.pk), status, actor=l2_agent)

    t6 = new(at(2026, 3, 1, 10), category=api_cat)
    escalate(t6, at(2026, 3, 1, 11))
    move(t6, at(2026, 3, 1, 12), Status.RESOLVED)

    t1 = new(at(2026, 3, 3, 9), category=api_cat)
    escalate(t1, at(2026, 3, 3, 9, 30))
    travel(at(2026, 3, 3, 11))
    services.add_evidence(t1, actor=l2_agent, kind="log", summary="401 in gateway log",
                          verified=True)
    services.start_playbook(t1, p_api, actor=l2_agent)
    move(t1, at(2026, 3, 3, 12), Status.RESOLVED)

    t2 = new(at(2026, 3, 3, 10), category=api_cat)
    escalate(t2, at(2026, 3, 3, 10, 30))
    travel(at(2026, 3, 3, 11))
    ts.return_escalation(Ticket.objects.get(pk=t2.pk), actor=l2_agent, missing="Request id?")
    escalate(t2, at(2026, 3, 3, 12))
    move(t2, at(2026, 3, 3, 12, 30), Status.IN_PROGRESS)
    travel(at(2026, 3, 3, 13))
    services.add_evidence(t2, actor=l2_agent, kind="reproduction", summary="Repro on staging")
    escalate(t2, at(2026, 3, 3, 13, 30), actor=l2_agent, to=None, engineering=True)
    travel(at(2026, 3, 3, 14))
    ev = t2.investigation.evidence.get()
    services.verify_evidence(ev, actor=l2_agent)  # verified 4 h after the 10:00 assignment
    move(t2, at(2026, 3, 3, 15), Status.RESOLVED)

    t3 = new(at(2026, 3, 4, 9), category=billing_cat)
    escalate(t3, at(2026, 3, 4, 9, 30))
    services.link_engineering(t3, actor=l2_agent, tracker="jira", key="ENG-7",
                              url="https://jira.example/browse/ENG-7", status="Open")
    move(t3, at(2026, 3, 4, 10), Status.RESOLVED)

    t4 = new(at(2026, 3, 4, 10), category=api_cat)
    travel(at(2026, 3, 4, 11))
    ts.transition(Ticket.objects.get(pk=t4.pk), Status.RESOLVED, actor=agent)

    t5 = new(at(2026, 3, 5, 9), category=billing_cat, product_area=exports_area)
    escalate(t5, at(2026, 3, 5, 9, 30))
    travel(at(2026, 3, 5, 10))
    services.start_playbook(t5, p_exports, actor=l2_agent)
    return {"t1": t1, "t2": t2, "t3": t3, "t4": t4, "t5": t5, "t6": t6}


MARCH = selectors.Filters(start=at(2026, 3, 1), end=at(2026, 4, 1))


def test_totals(dataset):
    t = selectors.totals(MARCH)
    assert t.technical == 5  # T4 never left L1
    assert (t.resolved, t.resolved_without_engineering) == (4, 2)  # T1, T6 of T1 T2 T3 T6
    assert t.solve_without_engineering == 0.5
    assert (t.escalations, t.returned) == (7, 1)  # T1 1, T2 3, T3 1, T5 1, T6 1
    assert t.rework_text == "14.3 %"
    assert (t.evidence_tickets, t.ttfe_seconds) == (2, 3 * 3600)  # mean of 2 h and 4 h
    assert t.ttfe_text == "3 h 00 min"
    assert t.followed == 2  # workflow reuse: T1, T5
    assert (t.recurring, t.recurring_followed) == (3, 2)  # T1 T2 T5; T6 predates, T3 inactive
    assert t.repeat_text == "66.7 %"


def test_time_to_first_evidence_is_stored_per_ticket(dataset):
    assert dataset["t1"].investigation.first_evidence_seconds == 2 * 3600
    inv = Ticket.objects.get(pk=dataset["t2"].pk).investigation
    assert inv.first_evidence_seconds == 4 * 3600
    assert inv.assigned_at == at(2026, 3, 3, 10)


def test_by_team_and_category(dataset, l1, l2, api_cat, billing_cat):
    data = selectors.dashboard(MARCH)
    teams = {r.label: r for r in data["by_team"]}
    assert (teams["L2 Technical"].technical, teams["L2 Technical"].escalations) == (5, 1)
    assert (teams["L1 General"].technical, teams["L1 General"].escalations,
            teams["L1 General"].returned) == (0, 6, 1)
    cats = {r.label: r for r in data["by_category"]}
    api, billing = cats["CW API errors"], cats["CW Billing"]
    assert (api.technical, api.resolved, api.resolved_without_engineering) == (3, 3, 2)
    assert (api.escalations, api.returned, api.followed) == (5, 1, 1)
    assert (api.recurring, api.recurring_followed) == (2, 1)
    assert (billing.technical, billing.resolved, billing.resolved_without_engineering) == (2, 1, 0)
    assert (billing.recurring, billing.recurring_followed, billing.followed) == (1, 1, 1)


def test_filters_narrow_the_figures(dataset, api_cat, l1):
    only_api = selectors.totals(selectors.Filters(start=MARCH.start, end=MARCH.end,
                                                  category_id=api_cat.pk))
    assert (only_api.technical, only_api.escalations) == (3, 5)
    from_march_2 = selectors.totals(selectors.Filters(start=at(2026, 3, 2), end=MARCH.end))
    assert (from_march_2.technical, from_march_2.escalations) == (4, 6)  # without T6
    l1_escalations = selectors.totals(selectors.Filters(start=MARCH.start, end=MARCH.end,
                                                        team_id=l1.pk))
    assert (l1_escalations.technical, l1_escalations.escalations) == (0, 6)


def test_escalation_rate_by_tier(dataset):
    tiers = {r["tier"]: r for r in selectors.escalation_rate_by_tier(MARCH)}
    assert (tiers["l1"]["handled"], tiers["l1"]["escalated"]) == (6, 5)
    assert tiers["l1"]["rate_text"] == "83.3 %"
    assert (tiers["l2"]["handled"], tiers["l2"]["escalated"]) == (5, 1)  # T2 to engineering
    assert tiers["l3"]["rate"] is None


def test_dashboard_page_and_csv_for_leads_and_managers(client, dataset, manager, agent):
    client.force_login(manager)
    page = client.get("/casework/dashboard/", {"start": "2026-03-01", "end": "2026-03-31"})
    assert page.status_code == 200
    assert "66.7 %" in page.content.decode() and "14.3 %" in page.content.decode()
    csv = client.get("/casework/dashboard/", {"start": "2026-03-01", "end": "2026-03-31",
                                              "format": "csv"}).content.decode()
    assert "total,All,5,180.0,4,2,50.0 %,7,1,14.3 %,2,3,2,66.7 %" in csv
    client.force_login(agent)  # a plain agent is neither a lead nor a manager
    assert client.get("/casework/dashboard/").status_code == 404


def test_no_technical_tickets_gives_dashes_not_zero(db):
    t = selectors.totals(MARCH)
    assert (t.technical, t.swe_text, t.rework_text, t.ttfe_text) == (0, "—", "—", "—")


def test_period_is_half_open(dataset):
    before = selectors.totals(selectors.Filters(start=at(2026, 3, 1), end=at(2026, 3, 3, 9)))
    assert before.technical == 1  # T6 only; T1 opened exactly at the end
    assert selectors.totals(selectors.Filters(start=at(2026, 3, 3, 9),
                                              end=at(2026, 3, 3, 9) + timedelta(seconds=1))
                            ).technical == 1


def test_dashboard_figures_are_cached_for_five_minutes(client, dataset, manager, travel,
                                                       django_assert_max_num_queries):
    """At a million tickets the figures take seconds: a second look within five minutes
    reads them from the cache (session, user and the form's choices only); after that
    they are computed again and show what changed."""
    client.force_login(manager)
    march = {"start": "2026-03-01", "end": "2026-03-31"}
    assert "66.7 %" in client.get("/casework/dashboard/", march).content.decode()
    Ticket.objects.update(created_at=at(2025, 1, 1))  # out of March: the figures would change
    with django_assert_max_num_queries(6):
        page = client.get("/casework/dashboard/", march).content.decode()
    assert "66.7 %" in page
    travel(timezone.now() + timedelta(minutes=6))
    assert "66.7 %" not in client.get("/casework/dashboard/", march).content.decode()


@pytest.mark.parametrize("team", [None, "l1", "l2"])
def test_dashboard_totals_are_the_sum_of_the_team_breakdown(dataset, team, l1, l2):
    """The dashboard adds up its per-team rows instead of a separate pass: the same
    figures as the direct totals, with and without a team filter."""
    team_id = {None: None, "l1": l1.pk, "l2": l2.pk}[team]
    f = selectors.Filters(start=MARCH.start, end=MARCH.end, team_id=team_id)
    assert selectors.dashboard(f)["totals"] == selectors.totals(f)

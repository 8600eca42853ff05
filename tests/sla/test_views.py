"""SLA in the agent workspace: countdowns in the queue, the ticket's SLA panel, exempting a
clock, and the approaching-breach list. Clock rows are built directly (not by the handlers)."""
from __future__ import annotations

import importlib
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.db.models import Min
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

import sla
from helpdesk.roles import Role
from sla.models import (
    Clock,
    ClockEvent,
    ClockLevelFire,
    ClockPause,
    ClockState,
    Metric,
    Policy,
)
from tickets.models import Ticket

from ..factories import make_ticket, make_user

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 18, 10, 0, tzinfo=UTC)  # a Wednesday
NBSP = "\xa0"
HTMX = {"HTTP_HX_REQUEST": "true"}


def make_clock(ticket: Ticket, metric: str = Metric.FIRST_RESPONSE, *, due_in: timedelta,
               state: str = ClockState.RUNNING, cycle: int = 1,
               target: timedelta = timedelta(hours=1), **fields) -> Clock:
    """A clock as the clock services would leave it (24/7: no calendar). A paused clock
    has no due times."""
    due_at = NOW + due_in
    started_at = fields.pop("started_at", due_at - target)
    counting = state in (ClockState.RUNNING, ClockState.BREACHED)
    fields.setdefault("segment_started_at", started_at if counting else None)
    paused = state == ClockState.PAUSED
    clock = Clock.objects.create(
        ticket=ticket, metric=metric, cycle=cycle, state=state, policy=Policy.objects.first(),
        target=target, internal_target=target * 3 / 4, started_at=started_at,
        due_at=None if paused else due_at,
        internal_due_at=None if paused else started_at + target * 3 / 4, **fields,
    )
    keep_ticket_due_in_step(ticket.pk)
    return clock


def keep_ticket_due_in_step(ticket_id: int) -> None:
    """What sla.services.sync_ticket maintains: the earliest due time of counting clocks."""
    earliest = Clock.objects.filter(
        ticket_id=ticket_id, completed_at__isnull=True, due_at__isnull=False,
        state__in=[ClockState.RUNNING, ClockState.BREACHED],
    ).aggregate(due=Min("due_at"))["due"]
    Ticket.objects.filter(pk=ticket_id).update(sla_due_at=earliest)


def fire(clock: Clock, percent: int) -> None:
    ClockLevelFire.objects.create(clock=clock, percent=percent, scheduled_at=NOW, fired_at=NOW)


def place(ticket: Ticket, **fields) -> Ticket:
    """Test setup only: what the sla app (or routing) would have written on the ticket."""
    Ticket.objects.filter(pk=ticket.pk).update(**fields)
    return Ticket.objects.get(pk=ticket.pk)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


@pytest.fixture
def l1_ticket(customer_a, agent, l1):
    return place(make_ticket(customer_a, subject="SSO is down"), team=l1, assignee=agent)


@pytest.fixture
def l2_ticket(customer_b, l2, l2_agent):
    return place(make_ticket(customer_b, subject="Invoice question"), team=l2,
                 assignee=l2_agent)


# --- access ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["sla:approaching", "sla:dashboard", "sla:paused"])
def test_sla_pages_are_for_agents_only(client, customer_a, agent, name):
    url = reverse(name)
    assert client.get(url).status_code == 302  # anonymous: to the login page
    client.force_login(customer_a)
    assert client.get(url).status_code == 404
    client.force_login(agent)
    response = client.get(url)
    assert response.status_code == 200
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "style=" not in response.content.decode()  # strict CSP: no inline styles


def test_customers_cannot_exempt(client, customer_a, l1_ticket):
    clock = make_clock(l1_ticket, due_in=timedelta(minutes=30))
    client.force_login(customer_a)
    response = client.post(reverse("sla:exempt", args=[clock.pk]), {"reason": "mine"})
    assert response.status_code == 404
    clock.refresh_from_db()
    assert clock.state == ClockState.RUNNING


# --- queue countdowns -----------------------------------------------------------------------

def test_queue_due_cell_counts_down_with_level_class_and_words(agent_client, l1_ticket,
                                                               customer_a, agent, l1):
    soon = place(l1_ticket, sla_due_at=NOW + timedelta(minutes=12, seconds=30),
                 sla_level="orange")
    late = place(make_ticket(customer_a, subject="Overdue one"), team=l1, assignee=agent,
                 sla_due_at=NOW - timedelta(minutes=5), sla_level="breach")
    calm = place(make_ticket(customer_a, subject="No level yet"), team=l1, assignee=agent,
                 sla_due_at=NOW + timedelta(hours=3), sla_level="")

    html = agent_client.get(reverse("agent:queue", args=["open"])).content.decode()

    assert (f'<td class="sla-due sla-orange"><time data-countdown datetime="'
            f'{soon.sla_due_at.isoformat()}"') in html
    assert f'class="countdown">in 12{NBSP}minutes</time> <span class="sla-label">at risk</span>' \
        in html
    assert '<td class="sla-due sla-breach">' in html
    assert (f'class="countdown overdue">overdue 5{NBSP}minutes</time> '
            '<span class="sla-label">breached</span>') in html
    row = html.split(f'id="ticket-row-{calm.pk}"')[1].split("</tr>")[0]
    assert '<td class="sla-due">' in row and f"in 3{NBSP}hours</time>" in row
    assert "sla-label" not in row
    assert late.subject in html


def test_queue_refresh_partial_keeps_the_countdowns(agent_client, l1_ticket):
    place(l1_ticket, sla_due_at=NOW + timedelta(minutes=50), sla_level="yellow")
    html = agent_client.get(reverse("agent:queue", args=["open"]), **HTMX).content.decode()
    assert "<html" not in html
    assert 'class="sla-due sla-yellow"' in html
    assert "data-countdown" in html and "on watch" in html


def test_countdown_script_is_loaded_and_follows_htmx_swaps(agent_client, l1_ticket):
    html = agent_client.get(reverse("agent:queue", args=["open"])).content.decode()
    assert '<script src="/static/js/countdown.js" defer></script>' in html
    script = (Path(settings.BASE_DIR) / "static/js/countdown.js").read_text()
    assert "time[data-countdown]" in script
    assert "htmx:afterSwap" in script
    assert "30000" in script
    assert '"overdue %(time)s"' in script and '"in %(time)s"' in script  # translated (jsi18n)


# --- the ticket's SLA panel -------------------------------------------------------------------

def test_ticket_page_shows_the_sla_panel_with_every_clock_and_the_history(
        agent_client, agent, l1_ticket):
    first = make_clock(l1_ticket, due_in=timedelta(minutes=10))  # 50 of 60 min used
    fire(first, 50)
    fire(first, 80)
    paused = make_clock(l1_ticket, Metric.RESOLUTION, due_in=timedelta(hours=6),
                        target=timedelta(hours=8), state=ClockState.PAUSED,
                        business_used=timedelta(hours=2), paused_at=NOW - timedelta(minutes=20))
    met = make_clock(l1_ticket, Metric.NEXT_RESPONSE, due_in=timedelta(minutes=-30),
                     state=ClockState.MET, met_at=NOW - timedelta(hours=1),
                     completed_at=NOW - timedelta(hours=1),
                     business_used=timedelta(minutes=15))
    ClockEvent.objects.create(clock=first, ticket=l1_ticket, kind="started",
                              at=NOW - timedelta(minutes=50))
    ClockEvent.objects.create(clock=paused, ticket=l1_ticket, kind="paused", actor=agent,
                              at=NOW - timedelta(minutes=20), reason="Waiting on customer logs")
    ClockPause.objects.create(clock=paused, ticket=l1_ticket, actor=agent,
                              reason="Waiting on customer logs",
                              started_at=NOW - timedelta(minutes=20))

    response = agent_client.get(reverse("agent:ticket", args=[l1_ticket.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    panel = html.split('id="sla-panel"')[1].split("</section>")[0]
    # The SLA detail sits in the right column (issue 22); the countdown is in the header.
    assert html.index('class="ticket-side"') < html.index('id="sla-panel"')
    assert 'class="sla-due head-sla"' in html.split('class="ticket-layout"')[0]
    assert "First response" in panel and "Resolution" in panel and "Next response" in panel
    first_row = panel.split(f'id="sla-clock-{first.pk}"')[1].split("</tr>")[0]
    assert 'class="sla-row sla-orange"' in panel
    assert "at risk" in first_row
    assert f"in 10{NBSP}minutes" in first_row  # contractual due
    assert "overdue 5" in first_row  # internal goal (45 min) passed 5 minutes ago
    assert "50 min of 1 h (83 %)" in first_row
    paused_row = panel.split(f'id="sla-clock-{paused.pk}"')[1].split("</tr>")[0]
    assert "paused since" in paused_row and "2 h of 8 h (25 %)" in paused_row
    assert "none while paused" in paused_row
    assert "data-countdown" not in paused_row  # a paused clock does not count down
    met_row = panel.split(f'id="sla-clock-{met.pk}"')[1].split("</tr>")[0]
    assert "met <time" in met_row and "Met" in met_row
    assert "Waiting on customer logs" in panel
    assert f"by {agent.display_name}" in panel and "by the system" in panel
    assert reverse("sla:exempt", args=[first.pk]) in panel
    assert reverse("sla:exempt", args=[paused.pk]) in panel
    assert reverse("sla:exempt", args=[met.pk]) not in panel  # stopped clocks stay as they are


def test_ticket_without_clocks_has_no_sla_panel(agent_client, l1_ticket):
    html = agent_client.get(reverse("agent:ticket", args=[l1_ticket.pk])).content.decode()
    assert 'id="sla-panel"' not in html


def test_overdue_clock_without_a_fired_level_still_shows_as_breached(agent_client, l1_ticket):
    make_clock(l1_ticket, due_in=timedelta(minutes=-3))
    html = agent_client.get(reverse("agent:ticket", args=[l1_ticket.pk])).content.decode()
    assert 'class="sla-row sla-breach"' in html
    assert "breached</span>" in html and f"overdue 3{NBSP}minutes" in html


# --- exempt -----------------------------------------------------------------------------------

def test_exempt_needs_a_reason(agent_client, l1_ticket):
    clock = make_clock(l1_ticket, due_in=timedelta(minutes=30))
    response = agent_client.post(reverse("sla:exempt", args=[clock.pk]), {"reason": "  "},
                                 follow=True)
    assert "Give a reason" in response.content.decode()
    clock.refresh_from_db()
    assert clock.state == ClockState.RUNNING


def test_exempt_of_a_ticket_out_of_view_is_404(client, l2_agent, l1_ticket):
    clock = make_clock(l1_ticket, due_in=timedelta(minutes=30))
    client.force_login(l2_agent)
    assert client.post(reverse("sla:exempt", args=[clock.pk]),
                       {"reason": "x"}).status_code == 404


def test_exempt_calls_the_service_with_reason_and_actor(agent_client, agent, l1_ticket,
                                                        monkeypatch):
    """The view's wiring, whatever the state of the clock services."""
    calls = []

    def fake_exempt(clock, *, reason, actor):
        calls.append((clock.pk, reason, actor.pk))

    try:
        services = importlib.import_module("sla.services")
        monkeypatch.setattr(services, "exempt", fake_exempt, raising=False)
    except ImportError:
        monkeypatch.setitem(sys.modules, "sla.services", SimpleNamespace(exempt=fake_exempt))
        monkeypatch.setattr(sla, "services", sys.modules["sla.services"], raising=False)
    clock = make_clock(l1_ticket, due_in=timedelta(minutes=30))

    response = agent_client.post(reverse("sla:exempt", args=[clock.pk]),
                                 {"reason": "Feature request, not a fault"})

    assert response.status_code == 302
    assert response["Location"] == reverse("agent:ticket", args=[l1_ticket.pk])
    assert calls == [(clock.pk, "Feature request, not a fault", agent.pk)]


def test_exempt_stops_the_clock_and_records_who_and_why(agent_client, agent, l1_ticket):
    services = pytest.importorskip("sla.services", reason="clock services not delivered yet")
    if not hasattr(services, "exempt"):
        pytest.skip("sla.services.exempt not delivered yet")
    clock = make_clock(l1_ticket, due_in=timedelta(minutes=30))

    response = agent_client.post(reverse("sla:exempt", args=[clock.pk]),
                                 {"reason": "Out of scope: on-site hardware"}, follow=True)

    assert response.status_code == 200
    clock.refresh_from_db()
    assert clock.state == ClockState.EXEMPT
    event = ClockEvent.objects.get(clock=clock, kind="exempted")
    assert event.actor == agent
    assert event.reason == "Out of scope: on-site hardware"
    assert "exempt from the SLA" in response.content.decode()


# --- approaching breach -----------------------------------------------------------------------

def test_approaching_lists_only_visible_counting_clocks_due_soon_most_urgent_first(
        agent_client, l1_ticket, l2_ticket, customer_a, agent, l1):
    other = place(make_ticket(customer_a, subject="Second"), team=l1, assignee=None)
    soon = make_clock(l1_ticket, due_in=timedelta(minutes=40))
    overdue = make_clock(other, due_in=timedelta(minutes=-25), state=ClockState.BREACHED,
                         breached_at=NOW - timedelta(minutes=25))
    fire(overdue, 100)
    make_clock(l1_ticket, Metric.RESOLUTION, due_in=timedelta(hours=5))  # not within 1 h
    make_clock(other, Metric.RESOLUTION, due_in=timedelta(minutes=5), state=ClockState.PAUSED)
    make_clock(other, Metric.NEXT_RESPONSE, due_in=timedelta(minutes=-5),
               state=ClockState.MET, completed_at=NOW - timedelta(hours=1))
    make_clock(l2_ticket, due_in=timedelta(minutes=1))  # another team's ticket

    response = agent_client.get(reverse("sla:approaching"))

    assert [c.pk for c in response.context["clocks"]] == [overdue.pk, soon.pk]
    html = response.content.decode()
    assert f"overdue 25{NBSP}minutes" in html and f"in 40{NBSP}minutes" in html
    assert 'class="sla-row sla-breach"' in html and "breached</span>" in html
    assert l2_ticket.subject not in html
    assert 'hx-trigger="every 30s"' in html

    wider = agent_client.get(reverse("sla:approaching"), {"within": 480})
    assert len(wider.context["clocks"]) == 3


def test_approaching_team_filter_and_htmx_partial(client, manager, l1_ticket, l2_ticket, l2):
    mine = make_clock(l2_ticket, due_in=timedelta(minutes=10))
    make_clock(l1_ticket, due_in=timedelta(minutes=5))
    client.force_login(manager)

    response = client.get(reverse("sla:approaching"), {"team": l2.pk}, **HTMX)

    assert [c.pk for c in response.context["clocks"]] == [mine.pk]
    html = response.content.decode()
    assert "<html" not in html
    assert 'id="approaching-results"' in html


def test_approaching_reads_in_constant_queries(client, manager, customer_a, l1):
    def build(n: int) -> None:
        for i in range(n):
            ticket = place(make_ticket(customer_a, subject=f"T{i}"), team=l1)
            make_clock(ticket, due_in=timedelta(minutes=i))

    client.force_login(manager)
    client.get(reverse("sla:approaching"))  # warm the per-user permission cache
    build(2)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("sla:approaching"))
    build(6)
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("sla:approaching"))
    assert len(response.context["clocks"]) == 8
    assert len(many) == len(few)


def test_approaching_counts_at_most_the_cap_and_pages_past_it(client, manager, customer_a, l1,
                                                               monkeypatch):
    """A big overdue backlog is counted up to the cap ("3+"), never in full; the next
    page still shows the clocks past the cap, most urgent first."""
    from helpdesk.paging import CappedPaginator
    from sla import views

    monkeypatch.setattr(CappedPaginator, "cap", 3)
    monkeypatch.setattr(views, "APPROACHING_PER_PAGE", 2)
    clocks = []
    for i in range(5):
        ticket = place(make_ticket(customer_a, subject=f"T{i}"), team=l1)
        clocks.append(make_clock(ticket, due_in=timedelta(minutes=i - 10)))
    client.force_login(manager)

    first = client.get(reverse("sla:approaching"))
    second = client.get(reverse("sla:approaching"), {"page": 2})

    assert "3+ clocks due within 1 hour or overdue" in first.content.decode()
    assert first.context["page_obj"].has_next()
    assert [c.pk for c in first.context["clocks"]] == [clocks[0].pk, clocks[1].pk]
    assert [c.pk for c in second.context["clocks"]] == [clocks[2].pk, clocks[3].pk]
    assert second.context["page_obj"].has_next()
    last = client.get(reverse("sla:approaching"), {"page": 3})
    assert [c.pk for c in last.context["clocks"]] == [clocks[4].pk]
    assert not last.context["page_obj"].has_next()


def test_non_agent_staff_role_customer_group_sees_404(client, org_a):
    someone = make_user(Role.CUSTOMER, org=org_a, username="carl")
    client.force_login(someone)
    assert client.get(reverse("sla:approaching")).status_code == 404

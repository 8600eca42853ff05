"""Time tracking: minutes logged with a reply, a running timer per agent, handle time."""
from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from tickets import services, timetracking
from tickets.models import Message, TimeEntry

from ..factories import make_ticket

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
T0 = dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC)


# --- services -------------------------------------------------------------------------

def test_reply_with_time_logs_an_entry_linked_to_the_message(ticket_a, agent):
    message = services.add_reply(ticket_a, author=agent, body="Fixed.", time_minutes=12)
    entry = TimeEntry.objects.get()
    assert (entry.ticket, entry.agent, entry.message, entry.minutes) == (
        ticket_a, agent, message, 12)
    assert entry.ended_at - entry.started_at == dt.timedelta(minutes=12)
    assert timetracking.handle_time(ticket_a) == 12


def test_reply_without_time_logs_nothing(ticket_a, agent):
    services.add_reply(ticket_a, author=agent, body="Looking.", time_minutes=None)
    services.add_reply(ticket_a, author=agent, body="Still looking.", time_minutes=0)
    assert not TimeEntry.objects.exists()


def test_invalid_time_rolls_back_the_reply(ticket_a, agent):
    with pytest.raises(ValidationError):
        services.add_reply(ticket_a, author=agent, body="Too long", time_minutes=601)
    assert not Message.objects.filter(ticket=ticket_a).exists()
    assert not TimeEntry.objects.exists()


def test_customers_cannot_log_time(ticket_a, customer_a):
    with pytest.raises(PermissionDenied):
        services.add_reply(ticket_a, author=customer_a, body="me too", time_minutes=5)
    with pytest.raises(PermissionDenied):
        timetracking.log_time(ticket_a, agent=customer_a, minutes=5)
    with pytest.raises(PermissionDenied):
        timetracking.start_timer(ticket_a, agent=customer_a)
    assert not TimeEntry.objects.exists()
    assert not Message.objects.filter(ticket=ticket_a).exists()


@pytest.mark.parametrize(("elapsed", "minutes"), [
    (dt.timedelta(seconds=0), 1),
    (dt.timedelta(seconds=5), 1),
    (dt.timedelta(seconds=60), 1),
    (dt.timedelta(seconds=61), 2),
    (dt.timedelta(minutes=25, seconds=1), 26),
])
def test_timer_rounds_up_to_whole_minutes_at_least_one(ticket_a, agent, elapsed, minutes):
    with time_machine.travel(T0, tick=False) as traveller:
        timetracking.start_timer(ticket_a, agent=agent)
        assert timetracking.running_timer(agent).ticket == ticket_a
        traveller.shift(elapsed)
        entry = timetracking.stop_timer(ticket_a, agent=agent)
    assert entry.minutes == minutes
    assert (entry.started_at, entry.ended_at) == (T0, T0 + elapsed)
    assert timetracking.running_timer(agent) is None


def test_one_running_timer_per_agent(ticket_a, agent, customer_a):
    other = make_ticket(customer_a, subject="Second problem")
    timetracking.start_timer(ticket_a, agent=agent)
    with pytest.raises(ValidationError, match=f"#{ticket_a.pk}"):
        timetracking.start_timer(other, agent=agent)
    with pytest.raises(ValidationError, match="already running"):
        timetracking.start_timer(ticket_a, agent=agent)
    assert TimeEntry.objects.filter(ended_at__isnull=True).count() == 1
    # and the database holds the line even if the check is bypassed
    with pytest.raises(IntegrityError), transaction.atomic():
        TimeEntry.objects.create(ticket=other, agent=agent, started_at=timezone.now())


def test_two_agents_may_time_the_same_ticket(ticket_a, agent, lead):
    timetracking.start_timer(ticket_a, agent=agent)
    timetracking.start_timer(ticket_a, agent=lead)
    assert TimeEntry.objects.filter(ticket=ticket_a, ended_at__isnull=True).count() == 2


def test_stop_without_a_running_timer_is_refused(ticket_a, agent, customer_a):
    with pytest.raises(ValidationError):
        timetracking.stop_timer(ticket_a, agent=agent)
    other = make_ticket(customer_a, subject="Second problem")
    timetracking.start_timer(other, agent=agent)
    with pytest.raises(ValidationError):  # the timer runs on another ticket
        timetracking.stop_timer(ticket_a, agent=agent)


def test_handle_time_sums_logged_and_stopped_timers_not_running_ones(ticket_a, ticket_b,
                                                                     agent, lead, l2_agent):
    services.add_reply(ticket_a, author=agent, body="one", time_minutes=10)
    timetracking.log_time(ticket_a, agent=lead, minutes=7)
    timetracking.log_time(ticket_b, agent=agent, minutes=100)
    with time_machine.travel(T0, tick=False) as traveller:
        timetracking.start_timer(ticket_a, agent=l2_agent)
        traveller.shift(dt.timedelta(minutes=3))
        assert timetracking.handle_time(ticket_a) == 17  # running: not counted yet
        timetracking.stop_timer(ticket_a, agent=l2_agent)
    assert timetracking.handle_time(ticket_a) == 20
    assert timetracking.handle_time(ticket_b) == 100
    assert timetracking.handle_time_by_ticket([ticket_a.pk, ticket_b.pk]) == {
        ticket_a.pk: 20, ticket_b.pk: 100}


# --- views ----------------------------------------------------------------------------

@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


def test_reply_form_logs_time(agent_client, ticket_a, agent):
    response = agent_client.post(reverse("agent:reply", args=[ticket_a.pk]), {
        "body": "Done.", "visibility": "public", "time_minutes": "15"})
    assert response.status_code == 302
    entry = TimeEntry.objects.get()
    assert (entry.minutes, entry.agent, entry.message.body) == (15, agent, "Done.")


@pytest.mark.parametrize("value", ["-1", "601", "abc"])
def test_reply_form_refuses_bad_time(agent_client, ticket_a, value):
    response = agent_client.post(reverse("agent:reply", args=[ticket_a.pk]), {
        "body": "Done.", "visibility": "public", "time_minutes": value})
    assert response.status_code == 400
    assert not Message.objects.filter(ticket=ticket_a).exists()
    assert not TimeEntry.objects.exists()


def test_ticket_page_shows_total_and_timer_buttons(agent_client, ticket_a, agent):
    timetracking.log_time(ticket_a, agent=agent, minutes=42)
    page = agent_client.get(reverse("agent:ticket", args=[ticket_a.pk])).content.decode()
    assert 'id="reply_time_minutes"' in page
    assert 'data-handle-minutes="42"' in page
    assert reverse("agent:timer_start", args=[ticket_a.pk]) in page

    assert agent_client.post(reverse("agent:timer_start", args=[ticket_a.pk])).status_code == 302
    page = agent_client.get(reverse("agent:ticket", args=[ticket_a.pk])).content.decode()
    assert reverse("agent:timer_stop", args=[ticket_a.pk]) in page


def test_timer_views_with_htmx(agent_client, ticket_a, agent):
    with time_machine.travel(T0, tick=False) as traveller:
        response = agent_client.post(reverse("agent:timer_start", args=[ticket_a.pk]), **HTMX)
        assert response.status_code == 200
        html = response.content.decode()
        assert 'id="time-tracking"' in html and "Stop timer" in html
        traveller.shift(dt.timedelta(minutes=4, seconds=10))
        response = agent_client.post(reverse("agent:timer_stop", args=[ticket_a.pk]), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-handle-minutes="5"' in html and "Start timer" in html
    assert "5 minutes logged" in html
    assert TimeEntry.objects.get().minutes == 5


def test_second_timer_is_refused_in_the_view(agent_client, ticket_a, agent, customer_a):
    other = make_ticket(customer_a, subject="Second problem")
    agent_client.post(reverse("agent:timer_start", args=[ticket_a.pk]))
    response = agent_client.post(reverse("agent:timer_start", args=[other.pk]), **HTMX)
    assert response.status_code == 400
    assert TimeEntry.objects.filter(ended_at__isnull=True).get().ticket == ticket_a
    page = agent_client.get(reverse("agent:ticket", args=[other.pk])).content.decode()
    assert f"#{ticket_a.pk}</a>; stop it there" in page


def test_stop_without_timer_is_400(agent_client, ticket_a):
    response = agent_client.post(reverse("agent:timer_stop", args=[ticket_a.pk]))
    assert response.status_code == 400


@pytest.mark.parametrize("name", ["timer_start", "timer_stop"])
def test_customers_and_other_teams_get_404(client, customer_a, l2_agent, ticket_a, name):
    url = reverse(f"agent:{name}", args=[ticket_a.pk])
    client.force_login(customer_a)
    assert client.post(url).status_code == 404
    client.force_login(l2_agent)  # cannot see an L1 ticket
    assert client.post(url).status_code == 404
    assert not TimeEntry.objects.exists()


def test_timer_views_need_post(agent_client, ticket_a):
    assert agent_client.get(reverse("agent:timer_start", args=[ticket_a.pk])).status_code == 405


def test_customer_portal_reply_cannot_log_time(client, customer_a, ticket_a):
    client.force_login(customer_a)
    client.post(reverse("portal:reply", args=[ticket_a.pk]),
                {"body": "Any news?", "time_minutes": "30"})
    assert not TimeEntry.objects.exists()


def test_htmx_reply_with_time_refreshes_the_handle_time(agent_client, ticket_a):
    response = agent_client.post(reverse("agent:reply", args=[ticket_a.pk]), {
        "body": "Done.", "visibility": "note", "time_minutes": "9"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="time-tracking" aria-labelledby="time-title" hx-swap-oob="true"' in html
    assert 'data-handle-minutes="9"' in html


def test_htmx_reply_without_time_leaves_the_running_timer_card_alone(agent_client, ticket_a):
    """The time card is swapped only when the send logged time: otherwise a running timer
    would show as "Start timer" with an empty handle time after every note."""
    assert agent_client.post(reverse("agent:timer_start", args=[ticket_a.pk])).status_code == 302
    response = agent_client.post(reverse("agent:reply", args=[ticket_a.pk]), {
        "body": "Checked the logs.", "visibility": "note"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and "Checked the logs." in html
    assert 'id="time-tracking"' not in html and "Start timer" not in html

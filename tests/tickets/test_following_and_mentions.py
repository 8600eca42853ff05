"""Following a ticket from its page, and the "@" completion of the note box."""
from __future__ import annotations

import pytest
from django.urls import reverse

from helpdesk.models import Notification
from helpdesk.roles import Role
from tests.factories import make_ticket, make_user
from tickets import services
from tickets.models import TicketFollower

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def colleague(l1):
    return make_user(Role.AGENT, teams=(l1,), username="carl", first_name="Carl",
                     last_name="Cole")


def follow_url(ticket) -> str:
    return reverse("agent:follow", args=[ticket.pk])


def mentions(client, ticket, q: str):
    return client.get(reverse("agent:mentions", args=[ticket.pk]), {"q": q})


# --- following ------------------------------------------------------------------------

def test_agent_follows_and_unfollows_from_the_ticket_page(client, colleague, ticket_a):
    client.force_login(colleague)
    page = client.get(ticket_a.get_absolute_url()).content.decode()
    assert '<button type="submit" id="follow-button">Follow</button>' in page
    response = client.post(follow_url(ticket_a), {"action": "follow"}, **HTMX)
    assert '<button type="submit" id="follow-button">Unfollow</button>' in response.content.decode()
    assert TicketFollower.objects.filter(ticket=ticket_a, user=colleague).exists()
    client.post(follow_url(ticket_a), {"action": "follow"})  # twice: still one row
    assert TicketFollower.objects.filter(ticket=ticket_a).count() == 1
    page = client.get(ticket_a.get_absolute_url()).content.decode()
    assert '<button type="submit" id="follow-button">Unfollow</button>' in page
    response = client.post(follow_url(ticket_a), {"action": "unfollow"})
    assert response.status_code == 302
    assert not TicketFollower.objects.filter(ticket=ticket_a).exists()


def test_following_a_ticket_means_hearing_of_it(client, colleague, agent, customer_a,
                                                 django_capture_on_commit_callbacks):
    ticket = make_ticket(customer_a)
    client.force_login(colleague)
    client.post(follow_url(ticket), {"action": "follow"})
    with django_capture_on_commit_callbacks(execute=True):
        services.add_reply(ticket, author=agent, body="Reset the SSO cache.")
    [note] = Notification.objects.filter(recipient=colleague)
    assert note.source == "staff.followed_update"
    client.post(follow_url(ticket), {"action": "unfollow"})
    with django_capture_on_commit_callbacks(execute=True):
        services.add_reply(ticket, author=agent, body="And again.")
    assert Notification.objects.filter(recipient=colleague).count() == 1


def test_nobody_follows_a_ticket_they_cannot_see(client, l2_agent, customer_a, ticket_a):
    client.force_login(l2_agent)  # another team's agent
    assert client.post(follow_url(ticket_a), {"action": "follow"}).status_code == 404
    client.force_login(customer_a)  # the requester is no agent
    assert client.post(follow_url(ticket_a), {"action": "follow"}).status_code == 404
    assert not TicketFollower.objects.exists()


def test_follow_needs_post(client, agent, ticket_a):
    client.force_login(agent)
    assert client.get(follow_url(ticket_a)).status_code == 405


# --- "@" completion -------------------------------------------------------------------

def test_completion_lists_staff_who_can_see_the_ticket(client, agent, colleague, l2_agent,
                                                       manager, customer_a, ticket_a):
    client.force_login(agent)
    response = mentions(client, ticket_a, "c")
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    assert response.json() == {"results": [{"username": "carl", "name": "Carl Cole"}]}
    everyone = [r["username"] for r in mentions(client, ticket_a, "").json()["results"]]
    assert "carl" in everyone and "max" in everyone  # the manager sees every ticket
    assert "leo" not in everyone  # L2 cannot see an L1 ticket
    assert "alice" not in everyone  # never a customer
    assert "agnes" not in everyone  # not oneself
    assert mentions(client, ticket_a, "@Ca").json()["results"][0]["username"] == "carl"


def test_completion_is_for_agents_who_can_see_the_ticket(client, l2_agent, customer_a,
                                                         ticket_a):
    client.force_login(customer_a)
    assert mentions(client, ticket_a, "a").status_code == 404
    client.force_login(l2_agent)
    assert mentions(client, ticket_a, "a").status_code == 404
    client.logout()
    assert mentions(client, ticket_a, "a").status_code == 302  # to the log-in page


def test_the_note_box_offers_completion(client, agent, ticket_a):
    client.force_login(agent)
    page = client.get(ticket_a.get_absolute_url()).content.decode()
    assert f'data-mentions-url="{reverse("agent:mentions", args=[ticket_a.pk])}"' in page
    assert "js/mentions.js" in page

"""The agent workspace's server side: queue columns and sorting, the left navigation's
counts, presence on a ticket, the check before sending, assign to me, next ticket."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from helpdesk.roles import Role
from tickets import columns, presence, services
from tickets.models import Ticket

from ..factories import make_ticket, make_user

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
TEAM_HEADER = '<th scope="col">Team</th>'


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


@pytest.fixture
def three(customer_a, agent):
    out = []
    for i, prio in enumerate((3, 1, 2)):
        t = make_ticket(customer_a, subject=f"Row {i}")
        Ticket.objects.filter(pk=t.pk).update(priority=prio, assignee=agent,
                                              created_at=timezone.now() - timedelta(hours=i))
        out.append(Ticket.objects.get(pk=t.pk))
    return out


def listed(response) -> list[int]:
    return [t.pk for t in response.context["page_obj"].object_list]


def test_sortable_columns_order_the_queue_and_mark_the_header(agent_client, three):
    url = reverse("agent:queue", args=["mine"])
    by_prio = agent_client.get(url + "?sort=priority")
    assert listed(by_prio) == [three[1].pk, three[2].pk, three[0].pk]
    assert 'aria-sort="ascending"' in by_prio.content.decode()
    newest_last = agent_client.get(url + "?sort=-age")
    assert listed(newest_last) == [three[0].pk, three[1].pk, three[2].pk]
    assert 'aria-sort="descending"' in newest_last.content.decode()
    # An unknown sort key is the queue's own order (most urgent first), not an error.
    assert agent_client.get(url + "?sort=password").status_code == 200


def test_agent_chooses_columns_and_others_can_register_theirs(agent_client, three):
    url = reverse("agent:queue", args=["mine"])
    columns.register(columns.Column("plan", "Customer plan", default=False, order=95,
                                    value=lambda t: f"plan-of-{t.pk}"))
    try:
        html = agent_client.get(url).content.decode()
        assert "plan-of-" not in html and TEAM_HEADER in html  # not a default column
        agent_client.post(reverse("agent:queue_columns"),
                          {"columns": ["subject", "priority", "plan"], "next": url})
        html = agent_client.get(url).content.decode()
        assert f"plan-of-{three[0].pk}" in html and '<th scope="col">Customer plan</th>' in html
        assert TEAM_HEADER not in html and '<th scope="col">Requester</th>' not in html
        agent_client.post(reverse("agent:queue_columns"), {"action": "reset", "next": url})
        assert TEAM_HEADER in agent_client.get(url).content.decode()
    finally:
        columns.unregister("plan")


def test_left_navigation_counts_come_from_one_small_request(agent_client, three, agent):
    page = agent_client.get(reverse("agent:ticket", args=[three[0].pk])).content.decode()
    assert f'hx-get="{reverse("agent:queue_nav")}"' in page  # the page itself counts nothing
    nav = agent_client.get(reverse("agent:queue_nav")).content.decode()
    mine = re.search(r'href="/agent/queue/mine/".*?<span class="badge count">(\d+)', nav, re.S)
    assert mine and mine.group(1) == "3"


def test_left_navigation_shows_only_what_the_user_may_use(client, agent, admin_user):
    client.force_login(agent)
    html = client.get(reverse("agent:queue", args=["mine"])).content.decode()
    assert 'id="sidenav"' in html and "Audit log" not in html and "/privacy/" not in html
    for group in ("Work", "Insights", "Operations", "Admin"):
        assert f">{group}</summary>" in html
    client.force_login(admin_user)
    html = client.get(reverse("agent:queue", args=["mine"])).content.decode()
    assert "Audit log" in html
    customer = make_user(Role.CUSTOMER, username="cust-nav")
    client.force_login(customer)
    assert 'id="sidenav"' not in client.get(reverse("portal:tickets")).content.decode()


def test_presence_lists_other_viewers_and_who_types_until_they_stop(time_machine):
    start = timezone.now()
    time_machine.move_to(start, tick=False)
    presence.touch(7, user_id=1, name="Arthur", typing=False)
    seen = presence.touch(7, user_id=2, name="Bea", typing=True)
    assert [(v.name, v.typing) for v in seen] == [("Arthur", False)]
    others = presence.touch(7, user_id=1, name="Arthur", typing=False)
    assert [(v.name, v.typing) for v in others] == [("Bea", True)]
    time_machine.move_to(start + timedelta(seconds=presence.TYPING_TTL + 1), tick=False)
    presence.touch(7, user_id=2, name="Bea", typing=False)
    others = presence.touch(7, user_id=1, name="Arthur", typing=False)
    assert [(v.name, v.typing) for v in others] == [("Bea", False)]  # stopped typing
    time_machine.move_to(start + timedelta(seconds=presence.TYPING_TTL + presence.SEEN_TTL + 2),
                         tick=False)
    assert presence.touch(7, user_id=1, name="Arthur", typing=False) == []  # Bea left


def test_presence_poll_names_colleagues_and_what_arrived(client, agent, l1, customer_a):
    bea = make_user(Role.AGENT, teams=(l1,), username="bea", first_name="Bea")
    ticket = make_ticket(customer_a)
    loaded = Ticket.objects.get(pk=ticket.pk).updated_at.isoformat()
    url = reverse("agent:presence", args=[ticket.pk])
    client.force_login(bea)
    client.post(url, {"typing": "1", "seen": loaded}, **HTMX)
    client.force_login(agent)
    html = client.post(url, {"typing": "0", "seen": loaded}, **HTMX).content.decode()
    assert "Bea is typing a reply" in html and "new message" not in html
    services.add_reply(Ticket.objects.get(pk=ticket.pk), author=customer_a,
                       body="Any news?", public=True)
    html = client.post(url, {"typing": "0", "seen": loaded}, **HTMX).content.decode()
    assert "A new message arrived" in html and "Any news?" in html


def test_send_is_held_once_when_a_message_arrived_since_the_page_loaded(
        agent_client, agent, customer_a):
    ticket = make_ticket(customer_a)
    loaded = Ticket.objects.get(pk=ticket.pk).updated_at.isoformat()
    services.add_reply(Ticket.objects.get(pk=ticket.pk), author=customer_a,
                       body="Never mind, it works now.", public=True)
    url = reverse("agent:reply", args=[ticket.pk])
    form = {"body": "Try restarting.", "visibility": "public", "seen": loaded}
    held = agent_client.post(url, form, **HTMX)
    assert held["HX-Retarget"] == "#send-warning"
    html = held.content.decode()
    assert "Never mind, it works now." in html
    assert not ticket.messages.filter(author=agent).exists()
    newer = re.search(r'id="reply_seen" value="([^"]+)" hx-swap-oob', html).group(1)
    # The agent read it; sending with the new version sends.
    sent = agent_client.post(url, {**form, "seen": newer}, **HTMX)
    assert sent.status_code == 200
    assert ticket.messages.filter(author=agent, body="Try restarting.").exists()
    # Without htmx: the page again, 409, the warning and what was typed.
    services.add_reply(Ticket.objects.get(pk=ticket.pk), author=customer_a,
                       body="Still there?", public=True)
    page = agent_client.post(url, {**form, "body": "Yes.", "seen": newer})
    assert page.status_code == 409
    assert "Still there?" in page.content.decode() and "Yes.</textarea>" in page.content.decode()


def test_own_messages_never_hold_the_send(agent_client, agent, customer_a):
    ticket = make_ticket(customer_a)
    loaded = Ticket.objects.get(pk=ticket.pk).updated_at.isoformat()
    services.add_reply(Ticket.objects.get(pk=ticket.pk), author=agent, body="First.",
                       public=False)
    agent_client.post(reverse("agent:reply", args=[ticket.pk]),
                      {"body": "Second.", "visibility": "note", "seen": loaded}, **HTMX)
    assert ticket.messages.filter(author=agent).count() == 2


def test_send_then_next_ticket_and_assign_to_me(agent_client, agent, customer_a, three):
    ticket = make_ticket(customer_a)
    Ticket.objects.filter(pk=ticket.pk).update(assignee=None)
    response = agent_client.post(reverse("agent:assign_me", args=[ticket.pk]))
    assert Ticket.objects.get(pk=ticket.pk).assignee == agent
    assert response.status_code == 302
    response = agent_client.post(reverse("agent:reply", args=[three[1].pk]),
                                 {"body": "Done.", "visibility": "public", "then": "next"},
                                 **HTMX)
    target = response["HX-Redirect"]
    assert target != reverse("agent:ticket", args=[three[1].pk])
    assert re.fullmatch(r"/agent/tickets/\d+/", target)

"""The agent workspace's server side: queue columns and sorting, the left navigation's
counts, presence on a ticket, the check before sending, assign to me, next ticket."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from helpdesk.roles import Role
from helpdesk.services import set_preference
from tickets import columns, presence, services
from tickets.models import CustomField, Macro, Ticket

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


def choose_columns(client, keys, url):
    return client.post(reverse("agent:queue_columns"), {"columns": keys, "next": url})


def test_column_choice_is_the_agents_own_and_survives_signing_out(client, agent, l1, three):
    url = reverse("agent:queue", args=["mine"])
    client.force_login(agent)
    choose_columns(client, ["subject", "priority", "sla"], url)
    agent.refresh_from_db()
    assert agent.preferences["queue_columns"] == ["subject", "priority", "sla"]
    client.logout()
    client.force_login(agent)  # a new session: the choice came with the user
    html = client.get(url).content.decode()
    assert '<th scope="col">Requester</th>' not in html and TEAM_HEADER not in html
    assert "P1</span>" in html
    # A colleague still sees the defaults.
    colleague = make_user(Role.AGENT, teams=(l1,), username="colleague")
    client.force_login(colleague)
    assert TEAM_HEADER in client.get(url).content.decode()
    # "Defaults" forgets the choice.
    client.force_login(agent)
    client.post(reverse("agent:queue_columns"), {"action": "reset", "next": url})
    agent.refresh_from_db()
    assert "queue_columns" not in agent.preferences
    assert TEAM_HEADER in client.get(url).content.decode()


def test_a_choice_of_columns_that_no_longer_exist_falls_back_to_the_defaults(agent):
    set_preference(agent, "queue_columns", ["cf_gone", "plan_removed"])
    shown = columns.chosen(agent.preferences["queue_columns"])
    assert [c.key for c in shown] == [c.key for c in columns.all_columns() if c.default]
    # Unknown keys posted are dropped; known ones kept.
    only = columns.chosen(["cf_gone", "priority"])
    assert [c.key for c in only] == ["subject", "priority"]


def test_preferences_of_different_features_do_not_overwrite_each_other(agent):
    set_preference(agent, "queue_columns", ["subject"])
    stale = type(agent).objects.get(pk=agent.pk)  # another tab's copy of the user
    set_preference(stale, "other_feature", {"x": 1})
    agent.refresh_from_db()
    assert agent.preferences == {"queue_columns": ["subject"], "other_feature": {"x": 1}}
    set_preference(agent, "other_feature", None)
    agent.refresh_from_db()
    assert agent.preferences == {"queue_columns": ["subject"]}


@pytest.fixture
def link_fields(db):
    return {
        "plan": CustomField.objects.create(key="plan", label="Plan", field_type="dropdown",
                                           choices=["Basic", "Pro"], show_in_queue=True,
                                           order=1),
        "account": CustomField.objects.create(key="account", label="Account",
                                              field_type="organization",
                                              show_in_queue=True, order=2),
        "owner": CustomField.objects.create(key="owner", label="Owner", field_type="user",
                                            show_in_queue=True, order=3),
        "notes": CustomField.objects.create(key="notes", label="Notes", field_type="text"),
    }


def test_custom_fields_shown_in_queues_are_columns_of_the_one_registry(
        agent_client, agent, l1, three, link_fields, org_a):
    owner = make_user(Role.AGENT, teams=(l1,), username="olga", first_name="Olga",
                      last_name="Owner")
    for t in three:
        services.update_ticket(Ticket.objects.get(pk=t.pk), actor=agent, changes={
            "custom_fields": {"plan": "Pro", "account": org_a.pk, "owner": owner.pk}})
    keys = [c.key for c in columns.all_columns()]
    assert keys[-3:] == ["cf_plan", "cf_account", "cf_owner"]  # after the built-in ones
    assert "cf_notes" not in keys  # not shown in queues by its admin
    url = reverse("agent:queue", args=["mine"])
    html = agent_client.get(url).content.decode()
    # Shown by default, with the linked names; offered in the column menu.
    for header in ("Plan", "Account", "Owner"):
        assert f'<th scope="col">{header}</th>' in html
    assert "<td>Pro</td>" in html and "<td>Acme</td>" in html
    assert "<td>Olga Owner</td>" in html
    assert 'id="col-cf_plan"' in html
    # Not sortable: the values are JSON, indexed for filters but not for orderings.
    assert "sort=cf_plan" not in html
    assert listed(agent_client.get(url + "?sort=cf_plan")) == listed(agent_client.get(url))
    # An agent may hide them like any column, and then the page does not read the values.
    choose_columns(agent_client, ["subject", "cf_account"], url)
    html = agent_client.get(url).content.decode()
    assert '<th scope="col">Account</th>' in html and '<th scope="col">Plan</th>' not in html
    choose_columns(agent_client, ["subject", "priority"], url)
    with CaptureQueriesContext(connection) as ctx:
        agent_client.get(url)
    assert not [q for q in ctx.captured_queries
                if "tickets_ticket" in q["sql"] and "custom_fields" in q["sql"]]


def test_custom_field_columns_cost_the_same_queries_for_any_number_of_rows(
        agent_client, agent, customer_a, link_fields, org_a, l1):
    url = reverse("agent:queue", args=["mine"])

    def add(n):
        for i in range(n):
            t = make_ticket(customer_a, subject=f"Linked {i}")
            other = make_user(Role.AGENT, teams=(l1,), username=f"owner-{n}-{i}")
            services.update_ticket(Ticket.objects.get(pk=t.pk), actor=agent, changes={
                "assignee": agent, "custom_fields": {"account": org_a.pk, "owner": other.pk}})

    def count():
        cache.clear()  # the queue counts (20 s) would keep the page count of before
        agent_client.get(url)  # warm: configuration, counts
        with CaptureQueriesContext(connection) as ctx:
            response = agent_client.get(url)
        assert response.status_code == 200
        return len(ctx), len(listed(response))

    add(2)
    few, rows_few = count()
    add(10)
    many, rows_many = count()
    assert (rows_few, rows_many) == (2, 12)
    assert few == many
    # Without the custom-field columns: the two link-name queries fewer, no more.
    choose_columns(agent_client, ["subject", "priority"], url)
    assert count()[0] == many - 2


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


def test_the_composer_after_a_send_checks_the_next_send_too(agent_client, agent, customer_a):
    Macro.objects.create(name="Ask for logs", body="Please send the logs.")
    ticket = make_ticket(customer_a)
    loaded = Ticket.objects.get(pk=ticket.pk).updated_at.isoformat()
    url = reverse("agent:reply", args=[ticket.pk])
    sent = agent_client.post(url, {"body": "Looking.", "visibility": "public",
                                   "seen": loaded}, **HTMX)
    html = sent.content.decode()
    mine = ticket.messages.get(author=agent)
    # The new composer carries the ticket's new version (not nothing) and its macros.
    seen = re.search(r'id="reply_seen" value="([^"]+)"', html).group(1)
    assert seen == mine.created_at.isoformat()
    assert ">Ask for logs</option>" in html
    # A customer message after that send holds the next one.
    services.add_reply(Ticket.objects.get(pk=ticket.pk), author=customer_a,
                       body="Logs attached.", public=True)
    held = agent_client.post(url, {"body": "Thanks!", "visibility": "public", "seen": seen},
                             **HTMX)
    assert held["HX-Retarget"] == "#send-warning" and "Logs attached." in held.content.decode()
    assert not ticket.messages.filter(body="Thanks!").exists()


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


# --- page budgets: the queries of the queue and the ticket page, pinned ------------------

QUEUE_QUERIES = 7  # user, rows, people, organizations, teams, tags, saved filters
QUEUE_PARTIAL_QUERIES = 6  # the 30 s refresh: no saved filters
TICKET_QUERIES = 21  # warm: the conversation fragment is cached by the ticket's version
TICKET_FRESH_QUERIES = 24  # after a change: + messages, their attachments, the timeline


def test_queue_costs_a_fixed_number_of_queries(agent_client, agent, customer_a,
                                               django_assert_num_queries):
    for i in range(12):
        t = make_ticket(customer_a, subject=f"Budget {i}")
        Ticket.objects.filter(pk=t.pk).update(assignee=agent)
    url = reverse("agent:queue", args=["mine"])
    agent_client.get(url)  # warm: session, permissions, configuration, counts
    with django_assert_num_queries(QUEUE_QUERIES):
        response = agent_client.get(url)
    assert len(listed(response)) == 12
    with django_assert_num_queries(QUEUE_PARTIAL_QUERIES):
        agent_client.get(url, **HTMX)


def test_ticket_page_costs_a_fixed_number_of_queries_whatever_the_conversation(
        agent_client, agent, customer_a, django_assert_num_queries):
    ticket = make_ticket(customer_a)
    url = reverse("agent:ticket", args=[ticket.pk])

    def talk(n):
        for i in range(n):
            services.add_reply(Ticket.objects.get(pk=ticket.pk),
                               author=agent if i % 2 else customer_a, body=f"Line {i}",
                               public=not i % 2 or bool(i % 3))

    def fresh_conversation():
        agent_client.get(url)
        # A new version of the ticket: the conversation is read and drawn again.
        Ticket.objects.filter(pk=ticket.pk).update(updated_at=timezone.now())
        with CaptureQueriesContext(connection) as ctx:
            agent_client.get(url)
        return len(ctx)

    talk(2)
    agent_client.get(url)
    with django_assert_num_queries(TICKET_QUERIES):
        agent_client.get(url)
    assert fresh_conversation() == TICKET_FRESH_QUERIES
    talk(15)
    assert fresh_conversation() == TICKET_FRESH_QUERIES  # nothing per message or event
    agent_client.get(url)
    with django_assert_num_queries(TICKET_QUERIES):
        page = agent_client.get(url)
    assert "Line 14" in page.content.decode()

"""The agent workspace through its pages: queues, filters, the ticket page and its actions."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe

from helpdesk.models import SupportTier
from helpdesk.roles import Role
from tickets import services
from tickets.models import (
    Attachment,
    Category,
    Channel,
    Escalation,
    EventKind,
    Macro,
    Message,
    SavedFilter,
    Tag,
    Ticket,
    TicketEvent,
)
from tickets.state_machine import Status

from ..factories import PACKET, make_org, make_ticket, make_user

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def queue_url(name: str, **params) -> str:
    url = reverse("agent:queue", kwargs={"name": name})
    if params:
        url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    return url


def listed(response) -> list[int]:
    return [t.pk for t in response.context["page_obj"].object_list]


def place(ticket: Ticket, **fields) -> Ticket:
    """Test setup only: put a ticket where a scenario needs it (team, assignee, status...)."""
    Ticket.objects.filter(pk=ticket.pk).update(**fields)
    return Ticket.objects.get(pk=ticket.pk)


def fresh(ticket: Ticket) -> Ticket:
    """A new, unassigned ticket (auto-assignment may have picked an L1 member)."""
    return place(ticket, assignee=None, status=Status.NEW)


def flash_texts(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


# --- access -----------------------------------------------------------------------------

def test_anonymous_is_sent_to_login(client, ticket_a):
    response = client.get(queue_url("mine"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


@pytest.mark.parametrize("name", ["agent:index", "agent:new_ticket"])
def test_customer_gets_404_on_agent_pages(client, customer_a, name):
    client.force_login(customer_a)
    assert client.get(reverse(name)).status_code == 404


def test_customer_gets_404_on_queues_and_own_ticket(client, customer_a, ticket_a):
    client.force_login(customer_a)
    for name in ("mine", "teams", "unassigned", "open"):
        assert client.get(queue_url(name)).status_code == 404
    assert client.get(reverse("agent:ticket", args=[ticket_a.pk])).status_code == 404
    response = client.post(reverse("agent:reply", args=[ticket_a.pk]),
                           {"body": "hi", "visibility": "public"})
    assert response.status_code == 404
    assert not Message.objects.filter(ticket=ticket_a).exists()


def test_l2_agent_gets_404_on_l1_ticket(client, l2_agent, ticket_a, l1):
    assert ticket_a.team == l1
    client.force_login(l2_agent)
    for name in ("agent:ticket", "agent:conversation"):
        assert client.get(reverse(name, args=[ticket_a.pk])).status_code == 404
    response = client.post(reverse("agent:transition", args=[ticket_a.pk]), {"to": "triaged"})
    assert response.status_code == 404
    assert Ticket.objects.get(pk=ticket_a.pk).status == Status.NEW


def test_unknown_queue_is_404(agent_client):
    assert agent_client.get(queue_url("everything")).status_code == 404


def test_index_redirects_to_my_queue(agent_client):
    response = agent_client.get(reverse("agent:index"))
    assert response.status_code == 302
    assert response["Location"] == queue_url("mine")


# --- queues -----------------------------------------------------------------------------

@pytest.fixture
def board(agent, lead, l2_agent, customer_a, customer_b, l1, l2):
    """Tickets spread over the queues of `agent` (an L1 member)."""
    t = {}
    t["mine"] = place(make_ticket(customer_a, subject="Mine in L1"), team=l1, assignee=agent,
                      status=Status.IN_PROGRESS)
    t["lead"] = place(make_ticket(customer_a, subject="The lead's"), team=l1, assignee=lead,
                      status=Status.ASSIGNED)
    t["free"] = place(make_ticket(customer_b, subject="Nobody's yet"), team=l1, assignee=None,
                      status=Status.NEW)
    t["mine_l2"] = place(make_ticket(customer_b, subject="Mine in L2"), team=l2,
                         assignee=agent, status=Status.ASSIGNED)
    t["l2_free"] = place(make_ticket(customer_b, subject="L2 only"), team=l2, assignee=None,
                         status=Status.NEW)
    t["resolved"] = place(make_ticket(customer_a, subject="Done"), team=l1, assignee=agent,
                          status=Status.RESOLVED)
    return t


@pytest.mark.parametrize("name, expected", [
    ("mine", {"mine", "mine_l2"}),
    ("teams", {"mine", "lead", "free"}),
    ("unassigned", {"free"}),
    ("open", {"mine", "lead", "free", "mine_l2"}),
])
def test_each_queue_lists_its_open_tickets(agent_client, board, name, expected):
    response = agent_client.get(queue_url(name))
    assert response.status_code == 200
    assert set(listed(response)) == {board[k].pk for k in expected}
    html = response.content.decode()
    for key in expected:
        assert f'href="{reverse("agent:ticket", args=[board[key].pk])}"' in html
    assert board["resolved"].subject not in html
    assert board["l2_free"].subject not in html


def test_sidebar_counts_open_tickets_and_marks_the_current_queue(agent_client, board):
    response = agent_client.get(queue_url("teams"))
    counts = {q["name"]: q["count"] for q in response.context["queues"]}
    assert counts == {"mine": 2, "teams": 3, "unassigned": 1, "open": 4}
    html = response.content.decode()
    assert re.search(r'href="/agent/queue/teams/"\s+aria-current="page"', html)
    assert html.count('aria-current="page"') == 1


def test_rows_show_requester_organization_tier_and_badges(agent_client, board):
    html = agent_client.get(queue_url("teams")).content.decode()
    assert "Acme · Enterprise" in html
    assert "Globex · Starter" in html
    assert 'class="badge prio-3"' in html
    assert 'class="badge status-in_progress"' in html
    assert '<caption class="visually-hidden">' in html
    assert 'data-select-all="#queue-table"' in html
    assert 'name="ids"' in html


def test_queue_is_ordered_by_sla_due_then_priority_then_age(agent_client, customer_a, l1):
    now = timezone.now()
    tickets = {}
    for key, priority, age_minutes, due_in in [
        ("due_late", 4, 10, 120), ("due_soon", 5, 5, 30),
        ("p1_old", 1, 50, None), ("p3_old", 3, 40, None), ("p3_new", 3, 20, None),
    ]:
        ticket = make_ticket(customer_a, subject=key)
        tickets[key] = place(
            ticket, team=l1, assignee=None, priority=priority,
            created_at=now - timedelta(minutes=age_minutes),
            sla_due_at=now + timedelta(minutes=due_in) if due_in else None,
        )
    response = agent_client.get(queue_url("unassigned"))
    expected = ["due_soon", "due_late", "p1_old", "p3_old", "p3_new"]
    assert listed(response) == [tickets[k].pk for k in expected]
    # filters narrow, they do not re-order
    response = agent_client.get(queue_url("unassigned", q="p"))
    assert listed(response) == [tickets[k].pk for k in expected if "p" in k]


def _seed(n: int, customer, agent, l1):
    tag_a, _ = Tag.objects.get_or_create(name="vip")
    tag_b, _ = Tag.objects.get_or_create(name="billing")
    category = Category.objects.create(name="Access test", slug="access-test")
    for i in range(n):
        ticket = make_ticket(customer, subject=f"Seeded {i}")
        ticket.tags.add(tag_a, tag_b)
        place(ticket, team=l1, assignee=agent if i % 2 else None, category=category,
              sla_due_at=timezone.now() + timedelta(minutes=i) if i % 3 else None)


def test_queue_query_count_does_not_grow_with_the_page_size(agent_client, customer_a, agent,
                                                            l1):
    _seed(60, customer_a, agent, l1)
    agent_client.get(queue_url("open"))  # warm up caches (content types, ...)

    def count(per_page: int) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            response = agent_client.get(queue_url("open", per_page=per_page))
        assert response.status_code == 200
        return len(ctx.captured_queries), len(listed(response))

    small, small_rows = count(10)
    large, large_rows = count(50)
    assert (small_rows, large_rows) == (10, 50)
    assert small == large
    with CaptureQueriesContext(connection) as ctx:
        response = agent_client.get(queue_url("open", per_page=50), **HTMX)
    assert len(listed(response)) == 50
    partial_queries = len(ctx.captured_queries)
    with CaptureQueriesContext(connection) as ctx:
        agent_client.get(queue_url("open", per_page=10), **HTMX)
    assert len(ctx.captured_queries) == partial_queries


@pytest.mark.parametrize("per_page, expected", [("5", 10), ("1000", 100), ("x", 25), ("", 25),
                                                ("40", 40)])
def test_page_size_is_bounded(agent_client, per_page, expected):
    response = agent_client.get(queue_url("open", per_page=per_page))
    assert response.context["page_obj"].paginator.per_page == expected


def test_paging_keeps_the_filters(agent_client, customer_a, agent, l1):
    _seed(12, customer_a, agent, l1)
    response = agent_client.get(queue_url("open", per_page=10, q="Seeded"))
    assert len(listed(response)) == 10
    html = response.content.decode()
    assert "per_page=10" in html and "q=Seeded" in html and "page=2" in html
    response = agent_client.get(queue_url("open", per_page=10, q="Seeded", page=2))
    assert len(listed(response)) == 2


def test_filters_narrow_the_queue(agent_client, agent, lead, customer_a, customer_b, l1, l2):
    org_pro = make_org("Initech", tier=SupportTier.PROFESSIONAL)
    customer_c = make_user(Role.CUSTOMER, org=org_pro, username="carla")
    category = Category.objects.create(name="Refunds test", slug="refunds-test")
    a = place(make_ticket(customer_a, subject="Password reset loop"), team=l1, assignee=agent,
              status=Status.IN_PROGRESS, priority=1)
    b = place(make_ticket(customer_b, subject="Invoice doubled", channel=Channel.EMAIL), team=l1,
              assignee=None, status=Status.NEW, category=category)
    c = place(make_ticket(customer_c, subject="API 500 errors"), team=l1, assignee=lead,
              status=Status.ASSIGNED)
    services.update_ticket(c, actor=lead, changes={"tags": ["api", "urgent"]})

    def ids(**params):
        response = agent_client.get(queue_url("open", **params))
        assert response.status_code == 200
        return set(listed(response))

    assert ids() == {a.pk, b.pk, c.pk}
    assert ids(status="in_progress") == {a.pk}
    assert ids(priority=1) == {a.pk}
    assert ids(team=l1.pk) == {a.pk, b.pk, c.pk}
    assert ids(team=l2.pk) == set()
    assert ids(assignee=lead.pk) == {c.pk}
    assert ids(assignee="null") == {b.pk}
    assert ids(category=category.pk) == {b.pk}
    assert ids(channel="email") == {b.pk}
    assert ids(tier="professional") == {c.pk}
    assert ids(tier="enterprise") == {a.pk}
    assert ids(tag="API") == {c.pk}
    assert ids(q="invoice") == {b.pk}
    assert ids(q=f"%23{c.pk}") == {c.pk}
    assert ids(q=str(a.pk)) >= {a.pk}
    # a bad value is shown as an error and ignored, not a crash
    assert ids(priority=9) == {a.pk, b.pk, c.pk}


def test_filter_bar_is_accessible_and_htmx_driven(agent_client):
    html = agent_client.get(queue_url("open")).content.decode()
    assert 'data-shortcut="search"' in html
    assert 'hx-push-url="true"' in html
    assert 'hx-target="#queue-results"' in html
    for field in ("q", "status", "priority", "team", "assignee", "category", "channel", "tier",
                  "tag", "per_page"):
        assert f'<label for="filter_{field}">' in html


def test_htmx_queue_request_returns_the_refreshing_table_only(agent_client, board):
    response = agent_client.get(queue_url("teams", priority=3), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="queue-results"' in html
    assert 'hx-trigger="every 30s"' in html
    assert 'hx-get="/agent/queue/teams/?priority=3"' in html
    assert 'id="queue-nav" aria-labelledby="queues-title" hx-swap-oob="true"' in html
    assert 'id="sf_query" value="priority=3" hx-swap-oob="true"' in html
    assert "HX-Request" in response["Vary"]


def test_pages_use_no_inline_script_or_style(agent_client, board):
    for url in (queue_url("open"), reverse("agent:ticket", args=[board["mine"].pk]),
                reverse("agent:new_ticket")):
        html = agent_client.get(url).content.decode()
        assert " style=" not in html
        assert "hx-on" not in html
        assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []


# --- bulk -------------------------------------------------------------------------------

def test_bulk_assign_and_unassign(agent_client, agent, board):
    ids = [board["free"].pk, board["lead"].pk]
    response = agent_client.post(reverse("agent:bulk"), {
        "ids": ids, "action": "assign", "assignee": agent.pk, "next": queue_url("teams"),
    }, follow=True)
    assert response.redirect_chain[-1][0] == queue_url("teams")
    assert "2 tickets changed." in flash_texts(response)
    assert set(Ticket.objects.filter(pk__in=ids).values_list("assignee", flat=True)) == {agent.pk}
    assert TicketEvent.objects.filter(ticket_id__in=ids, field="assignee", actor=agent).count() == 2

    response = agent_client.post(reverse("agent:bulk"), {"ids": ids, "action": "unassign"},
                                 follow=True)
    assert "2 tickets changed." in flash_texts(response)
    assert not Ticket.objects.filter(pk__in=ids, assignee__isnull=False).exists()


def test_bulk_status_reports_refused_tickets_with_their_reason(agent_client, board):
    ok, refused = board["mine"], board["free"]  # in progress, new
    response = agent_client.post(reverse("agent:bulk"), {
        "ids": [ok.pk, refused.pk], "action": "status", "status": "waiting_on_customer",
        "reason": "asked for logs",
    }, follow=True)
    texts = flash_texts(response)
    assert "1 ticket changed." in texts
    assert any(t.startswith(f"#{refused.pk} refused:") and "New" in t for t in texts)
    assert Ticket.objects.get(pk=ok.pk).status == Status.WAITING_ON_CUSTOMER
    assert Ticket.objects.get(pk=refused.pk).status == Status.NEW
    assert TicketEvent.objects.filter(ticket=ok, kind=EventKind.STATUS,
                                      note="asked for logs").exists()


def test_bulk_ignores_tickets_the_agent_cannot_see(agent_client, agent, board):
    hidden = board["l2_free"]
    response = agent_client.post(reverse("agent:bulk"), {
        "ids": [hidden.pk], "action": "assign", "assignee": agent.pk,
    }, follow=True)
    assert "0 tickets changed." in flash_texts(response)
    assert Ticket.objects.get(pk=hidden.pk).assignee is None


def test_bulk_without_selection_is_an_error(agent_client, agent):
    response = agent_client.post(reverse("agent:bulk"), {"action": "assign",
                                                         "assignee": agent.pk}, follow=True)
    assert any("Select some tickets" in t for t in flash_texts(response))


# --- saved filters ----------------------------------------------------------------------

def test_saved_filter_round_trip(agent_client, agent, lead):
    response = agent_client.post(reverse("agent:saved_filter", args=["teams"]), {
        "name": "Urgent", "query": "priority=1&page=3&q=&channel=email",
    })
    assert response.status_code == 302
    assert response["Location"] == queue_url("teams") + "?channel=email&priority=1"
    saved = SavedFilter.objects.get(owner=agent, name="Urgent")
    assert saved.query == "queue=teams&channel=email&priority=1"
    assert not saved.is_shared

    SavedFilter.objects.create(owner=lead, name="Team P2s", query="queue=open&priority=2",
                               is_shared=True)
    SavedFilter.objects.create(owner=lead, name="Lead private", query="priority=5")
    html = agent_client.get(queue_url("mine")).content.decode()
    assert 'href="/agent/queue/teams/?channel=email&amp;priority=1"' in html
    assert 'href="/agent/queue/open/?priority=2"' in html
    assert "Team P2s" in html and "Lead private" not in html

    # saving under the same name replaces it
    agent_client.post(reverse("agent:saved_filter", args=["open"]),
                      {"name": "Urgent", "query": "priority=2", "is_shared": "on"})
    saved.refresh_from_db()
    assert (saved.query, saved.is_shared) == ("queue=open&priority=2", True)


def test_saved_filter_needs_a_name(agent_client, agent):
    response = agent_client.post(reverse("agent:saved_filter", args=["open"]), {"query": "a=1"},
                                 follow=True)
    assert any("Filter name" in t for t in flash_texts(response))
    assert not SavedFilter.objects.exists()


# --- ticket page --------------------------------------------------------------------------

def test_ticket_page_shows_conversation_context_and_controls(agent_client, agent, ticket_a,
                                                             org_a, monkeypatch):
    org_a.csm = make_user(Role.MANAGER, username="cassie", first_name="Cassie")
    org_a.save()
    older = make_ticket(ticket_a.requester, subject="Earlier question")
    ticket = place(ticket_a, description="Steps:\n\n**bold** <script>alert(1)</script>")
    services.add_reply(ticket, author=ticket.requester, body="Any news?")
    services.add_reply(ticket, author=agent, body="Looking *now*", public=True)
    services.add_reply(ticket, author=agent, body="Internal: check SSO", public=False)

    from tickets.views import agent as agent_views
    monkeypatch.setattr(agent_views, "render_panels", lambda t, request, area: [
        mark_safe(f'<section class="card">{area.upper()} PANEL for #{t.pk}</section>')])

    response = agent_client.get(reverse("agent:ticket", args=[ticket.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"#{ticket.pk} {ticket.subject}" in html
    assert "<strong>bold</strong>" in html and "<script>alert" not in html
    assert 'class="message agent"' in html
    assert 'class="message note agent"' in html
    assert "<em>now</em>" in html
    assert 'data-shortcut="reply"' in html
    assert "Acme" in html and "Enterprise" in html and "Cassie" in html
    assert "alice@acme.example" in html
    assert "Earlier question" in html and f"#{older.pk}" in html
    assert f"MAIN PANEL for #{ticket.pk}" in html and f"SIDE PANEL for #{ticket.pk}" in html
    # Conversation first: every contributed panel sits in the right column, after it.
    assert html.index('id="conversation"') < html.index('class="ticket-side"') \
        < html.index("MAIN PANEL")
    assert f'hx-get="{reverse("agent:conversation", args=[ticket.pk])}"' in html
    assert 'hx-trigger="every 20s"' in html
    assert "System" in html  # routing / team strategy events have no actor


def test_ticket_page_offers_only_allowed_transitions(agent_client, ticket_a):
    ticket_a = fresh(ticket_a)
    html = agent_client.get(reverse("agent:ticket", args=[ticket_a.pk])).content.decode()
    offered = set(re.findall(r'name="to" value="([a-z_]+)"', html))
    assert offered == {"triaged", "assigned", "in_progress", "resolved", "closed"}
    # Escalated needs the packet: the status menu opens the escalation dialog for it.
    assert re.search(r'data-dialog="escalate-dialog">Escalate → Escalated', html)
    assert '<dialog id="escalate-dialog"' in html
    assert 'id="tr-closed-reason"' in html and 'id="tr-in_progress-assignee"' in html


def test_conversation_partial(agent_client, agent, ticket_a):
    services.add_reply(ticket_a, author=agent, body="Hidden from the customer", public=False)
    response = agent_client.get(reverse("agent:conversation", args=[ticket_a.pk]), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert html.strip().startswith('<section id="conversation"')
    assert "Hidden from the customer" in html
    assert "Timeline" in html


# --- actions ------------------------------------------------------------------------------

def test_public_reply(agent_client, agent, ticket_a):
    response = agent_client.post(reverse("agent:reply", args=[ticket_a.pk]),
                                 {"body": "We are on it.", "visibility": "public"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("agent:ticket", args=[ticket_a.pk])
    assert "Reply sent." in flash_texts(response)
    message = Message.objects.get(ticket=ticket_a)
    assert (message.is_public, message.by_agent, message.author) == (True, True, agent)
    assert TicketEvent.objects.filter(ticket=ticket_a, kind=EventKind.REPLY, actor=agent).exists()
    assert Ticket.objects.get(pk=ticket_a.pk).first_response_at is not None


def test_internal_note_with_attachment(agent_client, agent, ticket_a):
    upload = SimpleUploadedFile("trace.log", b"stack trace", content_type="text/plain")
    other = SimpleUploadedFile("shot.png", b"\x89PNG", content_type="image/png")
    response = agent_client.post(reverse("agent:reply", args=[ticket_a.pk]), {
        "body": "Seen this before", "visibility": "note", "attachments": [upload, other],
    })
    assert response.status_code == 302
    message = Message.objects.get(ticket=ticket_a)
    assert message.is_public is False
    assert sorted(Attachment.objects.filter(message=message).values_list("filename", flat=True)) \
        == ["shot.png", "trace.log"]
    assert TicketEvent.objects.filter(ticket=ticket_a, kind=EventKind.NOTE).exists()
    assert Ticket.objects.get(pk=ticket_a.pk).first_response_at is None
    html = agent_client.get(reverse("agent:ticket", args=[ticket_a.pk])).content.decode()
    assert "trace.log" in html and 'class="message note agent"' in html


def test_reply_and_set_status(agent_client, agent, ticket_a):
    ticket = place(ticket_a, assignee=agent, status=Status.IN_PROGRESS)
    agent_client.post(reverse("agent:reply", args=[ticket.pk]), {
        "body": "Please send the HAR file.", "visibility": "public",
        "set_status": "waiting_on_customer", "status_reason": "HAR file requested",
    })
    ticket.refresh_from_db()
    assert ticket.status == Status.WAITING_ON_CUSTOMER
    assert ticket.waiting_reason == "HAR file requested"
    assert ticket.messages.count() == 1


def test_refused_reply_changes_nothing_and_keeps_the_text(agent_client, ticket_a):
    response = agent_client.post(reverse("agent:reply", args=[ticket_a.pk]), {
        "body": "Draft answer", "visibility": "public", "set_status": "waiting_on_customer",
    })
    assert response.status_code == 400
    assert not Message.objects.filter(ticket=ticket_a).exists()
    assert "Draft answer" in response.content.decode()
    response = agent_client.post(reverse("agent:reply", args=[ticket_a.pk]),
                                 {"body": "  ", "visibility": "public"})
    assert response.status_code == 400
    assert any("empty" in t for t in flash_texts(response))


def test_refused_reply_keeps_its_text_when_the_fresh_composer_is_cached(agent_client, ticket_a):
    """A fresh composer's widgets come from the fragment cache; a form bound to what the
    agent sent neither comes from it nor goes into it."""
    page = agent_client.get(reverse("agent:ticket", args=[ticket_a.pk])).content.decode()
    assert 'id="reply_body">\n</textarea>' in page  # the fresh one, now cached
    response = agent_client.post(reverse("agent:reply", args=[ticket_a.pk]), {
        "body": "Draft answer", "visibility": "public", "set_status": "waiting_on_customer",
    })
    assert response.status_code == 400
    assert "Draft answer</textarea>" in response.content.decode()
    assert '<option value="waiting_on_customer" selected>' in response.content.decode()
    page = agent_client.get(reverse("agent:ticket", args=[ticket_a.pk])).content.decode()
    assert "Draft answer" not in page


def test_bad_attachment_type_is_refused(agent_client, ticket_a):
    upload = SimpleUploadedFile("run.exe", b"MZ", content_type="application/octet-stream")
    response = agent_client.post(reverse("agent:reply", args=[ticket_a.pk]), {
        "body": "see attached", "visibility": "public", "attachments": [upload]})
    assert response.status_code == 400
    assert any("not accepted" in t for t in flash_texts(response))
    assert not Message.objects.exists()


def test_allowed_transition(agent_client, agent, ticket_a):
    ticket_a = fresh(ticket_a)
    response = agent_client.post(reverse("agent:transition", args=[ticket_a.pk]),
                                 {"to": "triaged"}, follow=True)
    assert "Status changed to Triaged." in flash_texts(response)
    assert Ticket.objects.get(pk=ticket_a.pk).status == Status.TRIAGED
    event = TicketEvent.objects.filter(ticket=ticket_a, kind=EventKind.STATUS).last()
    assert (event.before, event.after, event.actor) == ("new", "triaged", agent)


def test_transition_with_assignee(agent_client, agent, lead, ticket_a):
    place(ticket_a, assignee=None, status=Status.TRIAGED)
    agent_client.post(reverse("agent:transition", args=[ticket_a.pk]),
                      {"to": "in_progress", "assignee": lead.pk})
    ticket = Ticket.objects.get(pk=ticket_a.pk)
    assert (ticket.status, ticket.assignee) == (Status.IN_PROGRESS, lead)


def test_refused_transition_shows_the_error_and_changes_nothing(agent_client, ticket_a):
    ticket_a = fresh(ticket_a)
    events_before = TicketEvent.objects.filter(ticket=ticket_a).count()
    response = agent_client.post(reverse("agent:transition", args=[ticket_a.pk]),
                                 {"to": "waiting_on_customer", "reason": "logs"})
    assert response.status_code == 400
    assert "A ticket cannot go from New to Waiting on customer." in response.content.decode()
    assert Ticket.objects.get(pk=ticket_a.pk).status == Status.NEW
    assert TicketEvent.objects.filter(ticket=ticket_a).count() == events_before

    response = agent_client.post(reverse("agent:transition", args=[ticket_a.pk]),
                                 {"to": "closed"})
    assert response.status_code == 400
    assert "provide: reason" in response.content.decode()
    assert Ticket.objects.get(pk=ticket_a.pk).status == Status.NEW


def test_update_fields(agent_client, agent, ticket_a, l1, l2):
    ticket_a = fresh(ticket_a)
    category = Category.objects.create(name="Login test", slug="login-test")
    response = agent_client.post(reverse("agent:update", args=[ticket_a.pk]), {
        "priority": "1", "category": category.pk, "team": l1.pk, "assignee": agent.pk,
        "tags": "VIP, sso ,, sso",
    }, follow=True)
    assert response.status_code == 200
    ticket = Ticket.objects.get(pk=ticket_a.pk)
    assert (ticket.priority, ticket.category, ticket.assignee) == (1, category, agent)
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["sso", "vip"]
    fields = set(TicketEvent.objects.filter(ticket=ticket, kind=EventKind.FIELD, actor=agent)
                 .values_list("field", flat=True))
    assert {"priority", "category", "assignee", "tags"} <= fields
    assert "team" not in fields  # unchanged fields are not touched

    response = agent_client.post(reverse("agent:update", args=[ticket.pk]), {
        "priority": "9", "team": l1.pk})
    assert response.status_code == 400
    assert Ticket.objects.get(pk=ticket.pk).priority == 1


def test_escalate_with_full_packet(client, agent, l2_agent, ticket_a, l2):
    place(ticket_a, assignee=agent, status=Status.IN_PROGRESS)
    client.force_login(agent)
    response = client.post(reverse("agent:escalate", args=[ticket_a.pk]),
                           {"to_team": l2.pk, **PACKET}, follow=True)
    # the ticket left the agent's teams: back to the queue, with the confirmation
    assert response.redirect_chain[-1][0] == queue_url("mine")
    assert any("Escalated to L2 Technical" in t for t in flash_texts(response))
    ticket = Ticket.objects.get(pk=ticket_a.pk)
    assert ticket.team == l2
    escalation = Escalation.objects.get(ticket=ticket)
    assert escalation.issue_summary == PACKET["issue_summary"]
    assert TicketEvent.objects.filter(ticket=ticket, kind=EventKind.ESCALATED,
                                      actor=agent).exists()

    client.force_login(l2_agent)
    html = client.get(reverse("agent:ticket", args=[ticket.pk])).content.decode()
    assert 'class="card packet"' in html
    assert html.index(PACKET["next_steps"]) < html.index('id="description-title"')


def test_escalate_to_engineering(agent_client, agent, ticket_a):
    place(ticket_a, assignee=agent, status=Status.IN_PROGRESS)
    agent_client.post(reverse("agent:escalate", args=[ticket_a.pk]),
                      {"engineering": "1", **PACKET})
    ticket = Ticket.objects.get(pk=ticket_a.pk)
    assert ticket.status == Status.ENGINEERING
    assert Escalation.objects.get(ticket=ticket).kind == Escalation.Kind.ENGINEERING


def test_incomplete_packet_is_refused(agent_client, agent, ticket_a, l2):
    place(ticket_a, assignee=agent, status=Status.IN_PROGRESS)
    packet = {**PACKET, "troubleshooting_done": "", "next_steps": "  "}
    response = agent_client.post(reverse("agent:escalate", args=[ticket_a.pk]),
                                 {"to_team": l2.pk, **packet})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Troubleshooting done: This field is required." in html
    assert PACKET["issue_summary"] in html  # what was typed is kept
    ticket = Ticket.objects.get(pk=ticket_a.pk)
    assert (ticket.status, ticket.team.slug) == (Status.IN_PROGRESS, "l1-general")
    assert not Escalation.objects.exists()


def test_merge_this_ticket_into_another(agent_client, agent, ticket_a, ticket_b):
    ticket_a = fresh(ticket_a)
    response = agent_client.post(reverse("agent:merge", args=[ticket_b.pk]),
                                 {"into": f"#{ticket_a.pk}"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("agent:ticket", args=[ticket_a.pk])
    duplicate = Ticket.objects.get(pk=ticket_b.pk)
    assert (duplicate.status, duplicate.merged_into_id) == (Status.CLOSED, ticket_a.pk)
    assert TicketEvent.objects.filter(ticket=ticket_a, kind=EventKind.MERGED).exists()
    assert TicketEvent.objects.filter(ticket=duplicate, kind=EventKind.MERGED).exists()
    assert ticket_b.requester in Ticket.objects.get(pk=ticket_a.pk).ccs.all()


def test_merge_refusals(agent_client, ticket_a, l2_agent, customer_b, l2):
    hidden = place(make_ticket(customer_b, subject="Elsewhere"), team=l2, assignee=None)
    for into, error in [(ticket_a.pk, "cannot be merged into itself"),
                        (hidden.pk, f"no ticket #{hidden.pk} you can see"),
                        ("abc", "Enter a ticket number")]:
        response = agent_client.post(reverse("agent:merge", args=[ticket_a.pk]), {"into": into})
        assert response.status_code == 400
        assert any(error in t for t in flash_texts(response)), error
    assert not Ticket.objects.filter(merged_into__isnull=False).exists()


def test_apply_macro(agent_client, agent, ticket_a):
    tag = Tag.objects.create(name="password")
    macro = Macro.objects.create(name="Reset link", body="Hi {{ requester_first_name }}, "
                                 "use the reset link.", set_priority=2)
    macro.add_tags.add(tag)
    response = agent_client.post(reverse("agent:macro", args=[ticket_a.pk]),
                                 {"macro": macro.pk}, follow=True)
    assert "Macro “Reset link” applied." in flash_texts(response)
    ticket = Ticket.objects.get(pk=ticket_a.pk)
    assert ticket.priority == 2
    assert list(ticket.tags.values_list("name", flat=True)) == ["password"]
    assert ticket.messages.get().body == "Hi Alice, use the reset link."
    assert TicketEvent.objects.filter(ticket=ticket, kind=EventKind.MACRO,
                                      after="Reset link").exists()


def test_inactive_macro_is_not_offered_nor_applied(agent_client, ticket_a):
    macro = Macro.objects.create(name="Old", body="x", is_active=False)
    html = agent_client.get(reverse("agent:ticket", args=[ticket_a.pk])).content.decode()
    assert "Apply a macro" not in html
    response = agent_client.post(reverse("agent:macro", args=[ticket_a.pk]), {"macro": macro.pk})
    assert response.status_code == 400
    assert not Message.objects.exists()


def test_actions_require_post(agent_client, ticket_a):
    for name in ("agent:reply", "agent:transition", "agent:update", "agent:escalate",
                 "agent:merge", "agent:macro"):
        assert agent_client.get(reverse(name, args=[ticket_a.pk])).status_code == 405


# --- htmx ---------------------------------------------------------------------------------

def test_htmx_reply_appends_the_new_message_and_a_fresh_form(agent_client, ticket_a):
    services.add_reply(fresh(ticket_a), author=ticket_a.requester, body="Earlier question.")
    response = agent_client.post(reverse("agent:reply", args=[ticket_a.pk]),
                                 {"body": "Fixed on our side.", "visibility": "public"}, **HTMX)
    assert response.status_code == 200
    assert response["HX-Reswap"] == "none"  # only the out-of-band parts land
    html = response.content.decode()
    assert "<html" not in html and '<section id="conversation"' not in html
    # The new message alone, appended to the conversation: not the earlier ones.
    assert 'hx-swap-oob="beforeend:#conversation-messages"' in html
    assert "Fixed on our side." in html and "Earlier question." not in html
    assert 'id="conversation-empty" hx-swap-oob="delete"' in html
    assert 'id="reply-form"' in html and 'hx-swap-oob="true"' in html
    assert 'id="messages" hx-swap-oob="innerHTML"' in html and "Reply sent." in html
    # The conversation the page polls holds it too, in its message list.
    page = agent_client.get(reverse("agent:conversation", args=[ticket_a.pk])).content.decode()
    assert '<div id="conversation-messages">' in page
    assert page.index("Earlier question.") < page.index("Fixed on our side.")


def test_htmx_error_is_shown_in_the_flash_area(agent_client, ticket_a):
    ticket_a = fresh(ticket_a)
    response = agent_client.post(reverse("agent:transition", args=[ticket_a.pk]),
                                 {"to": "engineering"}, **HTMX)
    assert response.status_code == 400
    assert response["HX-Retarget"] == "#messages"
    assert "cannot go from New to With engineering" in response.content.decode()
    assert Ticket.objects.get(pk=ticket_a.pk).status == Status.NEW


def test_htmx_actions_refresh_or_redirect(agent_client, ticket_a, ticket_b):
    ticket_a = fresh(ticket_a)
    response = agent_client.post(reverse("agent:transition", args=[ticket_a.pk]),
                                 {"to": "triaged"}, **HTMX)
    assert response["HX-Refresh"] == "true"
    response = agent_client.post(reverse("agent:merge", args=[ticket_b.pk]),
                                 {"into": ticket_a.pk}, **HTMX)
    assert response["HX-Redirect"] == reverse("agent:ticket", args=[ticket_a.pk])


def test_htmx_request_after_session_expiry_redirects_the_page(client):
    response = client.get(queue_url("mine"), **HTMX)
    assert reverse("login") in response["HX-Redirect"]


# --- new ticket ---------------------------------------------------------------------------

def test_agent_files_a_ticket_for_a_customer(agent_client, agent, customer_a):
    response = agent_client.post(reverse("agent:new_ticket"), {
        "requester": "ALICE@acme.example", "channel": "phone", "subject": "Called about SSO",
        "description": "Customer called: SSO broken.", "priority": "2", "tags": "sso",
    })
    ticket = Ticket.objects.get(subject="Called about SSO")
    assert response.status_code == 302
    assert response["Location"] == reverse("agent:ticket", args=[ticket.pk])
    assert (ticket.requester, ticket.channel, ticket.priority) == (customer_a, "phone", 2)
    assert ticket.organization == customer_a.organization
    assert TicketEvent.objects.get(ticket=ticket, kind=EventKind.CREATED).actor == agent


def test_new_ticket_form_errors(agent_client):
    html = agent_client.get(reverse("agent:new_ticket")).content.decode()
    assert '<label for="id_requester">' in html
    response = agent_client.post(reverse("agent:new_ticket"), {
        "requester": "nobody", "channel": "phone", "subject": "x", "description": "y"})
    assert response.status_code == 400
    assert "No active user with that username or email." in response.content.decode()
    assert not Ticket.objects.exists()


def test_queue_count_is_capped_on_huge_backlogs(client, manager, customer_a, monkeypatch):
    from helpdesk.paging import CappedPaginator

    monkeypatch.setattr(CappedPaginator, "cap", 3)
    for _ in range(12):
        make_ticket(customer_a)
    client.force_login(manager)
    url = reverse("agent:queue", args=["open"])
    # Counted up to the cap, then "at least the rows seen and one more".
    assert "11+ tickets" in client.get(url, {"per_page": 10}).content.decode()
    # Pages go on past the cap; the last one knows the count.
    last = client.get(url, {"per_page": 10, "page": 2})
    assert len(last.context["page_obj"].object_list) == 2
    assert "12 tickets" in last.content.decode()


def test_pickers_show_new_teams_and_agents_at_once(client, agent, ticket_a):
    from helpdesk.models import Team

    client.force_login(agent)
    url = reverse("agent:ticket", args=[ticket_a.pk])
    assert "Night Shift" not in client.get(url).content.decode()
    Team.objects.create(name="Night Shift", slug="night-shift")
    make_user(Role.AGENT, teams=(), username="newbie", first_name="Newbie")
    html = client.get(url).content.decode()
    assert "Night Shift" in html
    assert "Newbie" in html


def test_cached_conversation_shows_every_new_reply_and_event(client, agent, ticket_a):
    from tickets import services

    client.force_login(agent)
    url = reverse("agent:conversation", args=[ticket_a.pk])
    assert "First look" not in client.get(url).content.decode()
    services.add_reply(ticket_a, author=agent, body="First look", public=False)
    html = client.get(url).content.decode()
    assert "First look" in html
    services.transition(ticket_a, "resolved", actor=agent)
    assert "Resolved" in client.get(url).content.decode()


def test_the_composer_stays_in_the_mode_just_used(agent_client, ticket_a):
    """After an internal note the fresh composer is a note again (an agent writing down
    findings adds several), after a public reply a reply; the page itself opens on a reply."""
    url = reverse("agent:reply", args=[ticket_a.pk])

    def checked(html: str) -> list[str]:
        return re.findall(r'name="visibility" value="(\w+)"[^>]* checked', html)

    page = agent_client.get(reverse("agent:ticket", args=[ticket_a.pk]))  # caches the tabs
    assert checked(page.content.decode()) == ["public"]
    response = agent_client.post(url, {"body": "Logs show a timeout.", "visibility": "note"},
                                 HTTP_HX_REQUEST="true")
    assert checked(response.content.decode()) == ["note"]
    response = agent_client.post(url, {"body": "Now on it.", "visibility": "public"},
                                 HTTP_HX_REQUEST="true")
    assert checked(response.content.decode()) == ["public"]
    page = agent_client.get(reverse("agent:ticket", args=[ticket_a.pk])).content.decode()
    assert checked(page) == ["public"]

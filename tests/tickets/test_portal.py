"""The customer portal: filing, reading and following up requests, and what stays hidden."""
from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

from helpdesk.roles import Role
from tickets import services
from tickets.models import Attachment, Channel, Message, Priority, Ticket, TicketEvent

from ..factories import make_ticket, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def upload(name: str = "error.log", content: bytes = b"Traceback: boom\n",
           content_type: str = "text/plain") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def url(name: str, *args) -> str:
    return reverse(f"portal:{name}", args=args)


def snapshot(ticket: Ticket) -> tuple:
    """Everything an action could change on a ticket."""
    ticket = Ticket.objects.get(pk=ticket.pk)
    return (
        ticket.status, ticket.reopen_count, ticket.updated_at,
        Message.objects.filter(ticket=ticket).count(),
        TicketEvent.objects.filter(ticket=ticket).count(),
        Attachment.objects.filter(message__ticket=ticket).count(),
    )


def to_waiting_on_customer(ticket: Ticket, agent) -> Ticket:
    services.transition(ticket, "in_progress", actor=agent, assignee=agent)
    return services.transition(ticket, "waiting_on_customer", actor=agent,
                               reason="Please send the HAR file of the failing page.")


# --- filing a request -----------------------------------------------------------------

def test_customer_files_a_ticket_with_an_attachment(client, customer_a, l1):
    client.force_login(customer_a)
    response = client.post(url("new_ticket"), {
        "subject": "Export to CSV fails",
        "description": "Clicking **Export** gives an error 500.",
        "attachments": [upload("error.log"), upload("screen.png", b"\x89PNG", "image/png")],
    })
    ticket = Ticket.objects.get(subject="Export to CSV fails")
    assert response.status_code == 302
    assert response["Location"] == url("ticket", ticket.pk)
    assert ticket.requester == customer_a
    assert ticket.organization == customer_a.organization
    assert ticket.channel == Channel.WEB
    assert ticket.priority == Priority.P3
    assert sorted(Attachment.objects.filter(message__ticket=ticket)
                  .values_list("filename", flat=True)) == ["error.log", "screen.png"]

    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "Export to CSV fails" in html
    assert "<strong>Export</strong>" in html
    assert "error.log" in html
    assert "Received" in html  # status in customer words


def test_new_ticket_with_category_and_product_area(client, customer_a):
    from tickets.models import Category, ProductArea

    category, area = Category.objects.get(slug="billing"), ProductArea.objects.get(slug="sso")
    client.force_login(customer_a)
    client.post(url("new_ticket"), {"subject": "SSO invoice", "description": "Details",
                                    "category": category.pk, "product_area": area.pk})
    ticket = Ticket.objects.get(subject="SSO invoice")
    assert (ticket.category, ticket.product_area) == (category, area)


def test_customer_cannot_choose_the_priority(client, customer_a):
    client.force_login(customer_a)
    client.post(url("new_ticket"), {"subject": "Urgent!!", "description": "Please",
                                    "priority": Priority.P1})
    assert Ticket.objects.get(subject="Urgent!!").priority == Priority.P3


def test_forbidden_attachment_type_is_refused_and_nothing_is_stored(client, customer_a):
    client.force_login(customer_a)
    response = client.post(url("new_ticket"), {
        "subject": "Here is a tool", "description": "Run it",
        "attachments": [upload("tool.exe", b"MZ...", "application/octet-stream")],
    })
    assert response.status_code == 200
    assert "not accepted" in response.content.decode()
    assert not Ticket.objects.exists()
    assert not Attachment.objects.exists()


def test_oversize_attachment_is_refused_and_nothing_is_stored(client, customer_a, settings):
    settings.HELPDESK_MAX_ATTACHMENT_BYTES = 10
    client.force_login(customer_a)
    response = client.post(url("new_ticket"), {
        "subject": "Big log", "description": "Attached",
        "attachments": [upload("big.log", b"x" * 11)],
    })
    assert response.status_code == 200
    assert "larger than" in response.content.decode()
    assert not Ticket.objects.exists()
    assert not Attachment.objects.exists()


def test_too_many_attachments_are_refused(client, customer_a, settings):
    settings.HELPDESK_MAX_ATTACHMENTS_PER_MESSAGE = 1
    client.force_login(customer_a)
    response = client.post(url("new_ticket"), {
        "subject": "Two logs", "description": "Attached",
        "attachments": [upload("a.log"), upload("b.log")],
    })
    assert response.status_code == 200
    assert "At most 1 attachments" in response.content.decode()
    assert not Ticket.objects.exists()


def test_missing_subject_is_an_error_linked_to_its_field(client, customer_a):
    client.force_login(customer_a)
    response = client.post(url("new_ticket"), {"subject": "", "description": "x"})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'aria-invalid="true"' in html
    assert 'id="id_subject_error"' in html
    assert not Ticket.objects.exists()


def test_new_ticket_form_labels_every_input(client, customer_a):
    client.force_login(customer_a)
    html = client.get(url("new_ticket")).content.decode()
    for field_id in ("id_subject", "id_description", "id_category", "id_product_area",
                     "id_attachments"):
        assert f'for="{field_id}"' in html
    assert "multiple" in html


# --- the list -------------------------------------------------------------------------

def test_list_shows_only_own_tickets(client, customer_a, ticket_a, ticket_b, org_a):
    colleague = make_user(Role.CUSTOMER, org=org_a, username="carol")
    colleagues_ticket = make_ticket(colleague, subject="Colleague's private request")
    client.force_login(customer_a)
    html = client.get(url("tickets")).content.decode()
    assert ticket_a.subject in html
    assert ticket_b.subject not in html
    assert colleagues_ticket.subject not in html


def test_list_includes_tickets_the_customer_is_cc_on(client, customer_a, customer_b, ticket_b):
    ticket_b.ccs.add(customer_a)
    client.force_login(customer_a)
    assert ticket_b.subject in client.get(url("tickets")).content.decode()


def test_list_filters_by_status(client, customer_a, ticket_a):
    solved = make_ticket(customer_a, subject="Already fixed")
    services.transition(solved, "resolved", actor=customer_a)
    client.force_login(customer_a)
    open_html = client.get(url("tickets"), {"status": "open"}).content.decode()
    solved_html = client.get(url("tickets"), {"status": "solved"}).content.decode()
    all_html = client.get(url("tickets"), {"status": "all"}).content.decode()
    assert ticket_a.subject in open_html and "Already fixed" not in open_html
    assert "Already fixed" in solved_html and ticket_a.subject not in solved_html
    assert ticket_a.subject in all_html and "Already fixed" in all_html


def test_list_pages_twenty_at_a_time(client, customer_a):
    for n in range(23):
        make_ticket(customer_a, subject=f"Request number {n:02d}")
    client.force_login(customer_a)
    first = client.get(url("tickets"))
    second = client.get(url("tickets"), {"page": 2})
    assert len(first.context["tickets"]) == 20
    assert len(second.context["tickets"]) == 3
    assert "Page 1 of 2" in first.content.decode()
    assert "Request number 22" in first.content.decode()  # newest first
    assert "Request number 00" in second.content.decode()


def test_list_query_count_does_not_grow_with_tickets(client, customer_a, org_admin_a):
    def count_queries(user) -> int:
        client.force_login(user)
        client.get(url("tickets"))  # warm the per-user permission cache
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url("tickets")).status_code == 200
        return len(ctx.captured_queries)

    make_ticket(customer_a)
    few_customer, few_admin = count_queries(customer_a), count_queries(org_admin_a)
    for n in range(6):
        make_ticket(customer_a, subject=f"More {n}")
        make_ticket(org_admin_a, subject=f"Admin {n}")
    assert count_queries(customer_a) == few_customer
    assert count_queries(org_admin_a) == few_admin


def test_org_admin_sees_the_organizations_tickets_but_not_other_orgs(
        client, org_admin_a, ticket_a, ticket_b):
    client.force_login(org_admin_a)
    html = client.get(url("tickets")).content.decode()
    assert ticket_a.subject in html
    assert ticket_b.subject not in html
    assert client.get(url("ticket", ticket_a.pk)).status_code == 200
    assert client.get(url("ticket", ticket_b.pk)).status_code == 404


def test_org_admin_can_narrow_the_list_to_own_requests(client, org_admin_a, ticket_a):
    make_ticket(org_admin_a, subject="Admin's own request")
    client.force_login(org_admin_a)
    html = client.get(url("tickets"), {"scope": "own"}).content.decode()
    assert "Admin&#39;s own request" in html  # escaped (Jinja2 writes &#39;)
    assert ticket_a.subject not in html


def test_plain_customer_cannot_widen_the_list_to_the_organization(
        client, customer_a, org_a):
    other = make_ticket(make_user(Role.CUSTOMER, org=org_a), subject="Not for Alice")
    client.force_login(customer_a)
    html = client.get(url("tickets"), {"scope": "organization"}).content.decode()
    assert other.subject not in html


# --- isolation between customers ------------------------------------------------------

def test_customer_cannot_read_or_act_on_another_customers_ticket(
        client, customer_a, customer_b, ticket_b, agent):
    ticket_b = to_waiting_on_customer(ticket_b, agent)
    services.add_reply(ticket_b, author=customer_b, body="Here it is",
                       attachments=[upload("b.har", b"{}")])
    attachment = Attachment.objects.get(message__ticket=ticket_b)
    before = snapshot(ticket_b)
    client.force_login(customer_a)

    assert client.get(url("ticket", ticket_b.pk)).status_code == 404
    assert client.post(url("reply", ticket_b.pk), {"body": "Hijack"}).status_code == 404
    assert client.post(url("solve", ticket_b.pk)).status_code == 404
    assert client.post(url("reopen", ticket_b.pk), {"reason": "x"}).status_code == 404
    assert client.get(url("attachment", attachment.pk)).status_code == 404
    assert snapshot(ticket_b) == before


def test_reopen_of_another_customers_solved_ticket_is_404(client, customer_a, customer_b,
                                                          ticket_b):
    services.transition(ticket_b, "resolved", actor=customer_b)
    before = snapshot(ticket_b)
    client.force_login(customer_a)
    assert client.post(url("reopen", ticket_b.pk), {"reason": "mine now"}).status_code == 404
    assert snapshot(ticket_b) == before


def test_guessing_sequential_ids_reveals_nothing(client, customer_a, ticket_a, customer_b):
    others = [make_ticket(customer_b, subject=f"Secret {n}") for n in range(3)]
    client.force_login(customer_a)
    highest = max(t.pk for t in others)
    for pk in range(1, highest + 3):
        status = client.get(url("ticket", pk)).status_code
        assert status == (200 if pk == ticket_a.pk else 404), pk


def test_unknown_attachment_is_404(client, customer_a):
    client.force_login(customer_a)
    assert client.get(url("attachment", 999999)).status_code == 404


# --- internal notes stay internal -----------------------------------------------------

def test_internal_notes_and_their_attachments_never_reach_the_customer(
        client, customer_a, ticket_a, agent):
    services.add_reply(ticket_a, author=agent, body="We are looking into it.", public=True)
    services.add_reply(ticket_a, author=agent, body="Customer is on a legacy plan, be careful.",
                       public=False, attachments=[upload("internal-notes.txt", b"secret")])
    note_file = Attachment.objects.get(message__is_public=False)
    client.force_login(customer_a)
    html = client.get(url("ticket", ticket_a.pk)).content.decode()
    assert "We are looking into it." in html
    assert "legacy plan" not in html
    assert "internal-notes.txt" not in html
    assert "Internal note" not in html
    assert client.get(url("attachment", note_file.pk)).status_code == 404


def test_agent_downloads_attachments_including_internal_notes(client, ticket_a, agent):
    services.add_reply(ticket_a, author=agent, body="Log from the server", public=False,
                       attachments=[upload("server.log", b"internal log")])
    note_file = Attachment.objects.get()
    client.force_login(agent)
    response = client.get(url("attachment", note_file.pk))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"internal log"


def test_agent_outside_the_tickets_team_cannot_download(client, ticket_a, l2_agent, customer_a):
    services.add_reply(ticket_a, author=customer_a, body="Log", attachments=[upload()])
    client.force_login(l2_agent)
    assert client.get(url("attachment", Attachment.objects.get().pk)).status_code == 404


def test_download_is_a_safe_attachment_response(client, customer_a, ticket_a):
    services.add_reply(ticket_a, author=customer_a, body="See the page",
                       attachments=[upload("page.html.txt", b"<script>alert(1)</script>")])
    attachment = Attachment.objects.get()
    client.force_login(customer_a)
    response = client.get(url("attachment", attachment.pk))
    assert response.status_code == 200
    assert response["Content-Type"] == attachment.content_type == "text/plain"
    assert response["Content-Disposition"].startswith("attachment;")
    assert 'filename="page.html.txt"' in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == b"<script>alert(1)</script>"


def test_agent_opening_a_portal_ticket_goes_to_the_agent_workspace(client, agent, ticket_a):
    try:
        target = reverse("agent:ticket", args=[ticket_a.pk])
    except NoReverseMatch:
        pytest.skip("agent workspace not installed yet")
    client.force_login(agent)
    response = client.get(url("ticket", ticket_a.pk))
    assert response.status_code == 302
    assert response["Location"] == target


# --- following up ---------------------------------------------------------------------

def test_markdown_is_rendered_safely(client, customer_a):
    ticket = make_ticket(customer_a, description="**bold** <script>alert(1)</script>")
    client.force_login(customer_a)
    html = client.get(url("ticket", ticket.pk)).content.decode()
    assert "<strong>bold</strong>" in html
    assert "<script>alert(1)</script>" not in html


def test_reply_with_attachment_is_added_to_the_conversation(client, customer_a, ticket_a):
    client.force_login(customer_a)
    response = client.post(url("reply", ticket_a.pk), {
        "body": "More details here", "attachments": [upload("more.txt", b"details")],
    }, follow=True)
    message = Message.objects.get(ticket=ticket_a)
    assert message.is_public and not message.by_agent
    assert message.attachments.get().filename == "more.txt"
    html = response.content.decode()
    assert "More details here" in html and "more.txt" in html


def test_empty_reply_is_refused(client, customer_a, ticket_a):
    client.force_login(customer_a)
    response = client.post(url("reply", ticket_a.pk), {"body": "  "})
    assert response.status_code == 200
    assert "Write a message or attach a file." in response.content.decode()
    assert not Message.objects.filter(ticket=ticket_a).exists()


def test_reply_with_forbidden_attachment_stores_nothing(client, customer_a, ticket_a):
    before = snapshot(ticket_a)
    client.force_login(customer_a)
    response = client.post(url("reply", ticket_a.pk), {
        "body": "Run this", "attachments": [upload("x.bat", b"@echo off")],
    })
    assert response.status_code == 200
    assert "not accepted" in response.content.decode()
    assert snapshot(ticket_a) == before


def test_reply_to_waiting_ticket_moves_it_back_to_in_progress(client, customer_a, ticket_a,
                                                              agent):
    to_waiting_on_customer(ticket_a, agent)
    client.force_login(customer_a)
    page = client.get(url("ticket", ticket_a.pk)).content.decode()
    assert "Awaiting your reply" in page
    assert "Please send the HAR file" in page

    response = client.post(url("reply", ticket_a.pk), {"body": "Attached the HAR."},
                           follow=True)
    ticket_a.refresh_from_db()
    assert ticket_a.status == "in_progress"
    html = response.content.decode()
    assert 'cstatus-progress">In progress</span>' in html
    assert 'cstatus-waiting">' not in html
    assert "back on it" in html


def test_mark_as_solved(client, customer_a, ticket_a):
    client.force_login(customer_a)
    assert "Mark as solved" in client.get(url("ticket", ticket_a.pk)).content.decode()
    response = client.post(url("solve", ticket_a.pk), follow=True)
    ticket_a.refresh_from_db()
    assert ticket_a.status == "resolved"
    html = response.content.decode()
    assert "Solved" in html
    assert "Mark as solved" not in html
    assert "Reopen" in html


def test_org_admin_can_mark_a_colleagues_ticket_solved(client, org_admin_a, ticket_a):
    client.force_login(org_admin_a)
    client.post(url("solve", ticket_a.pk))
    ticket_a.refresh_from_db()
    assert ticket_a.status == "resolved"


def test_reopen_a_solved_ticket(client, customer_a, ticket_a):
    services.transition(ticket_a, "resolved", actor=customer_a)
    client.force_login(customer_a)
    response = client.post(url("reopen", ticket_a.pk),
                           {"reason": "The export fails again."}, follow=True)
    ticket_a.refresh_from_db()
    assert ticket_a.status == "in_progress"
    assert ticket_a.reopen_count == 1
    assert ticket_a.events.filter(kind="status", note="The export fails again.").exists()
    assert "Mark as solved" in response.content.decode()


def test_reopen_needs_a_reason(client, customer_a, ticket_a):
    services.transition(ticket_a, "resolved", actor=customer_a)
    before = snapshot(ticket_a)
    client.force_login(customer_a)
    response = client.post(url("reopen", ticket_a.pk), {"reason": " "})
    assert response.status_code == 200
    assert 'id="id_reason_error"' in response.content.decode()
    assert snapshot(ticket_a) == before


def test_reopen_is_refused_when_the_ticket_is_not_solved(client, customer_a, ticket_a):
    before = snapshot(ticket_a)
    client.force_login(customer_a)
    assert "Reopen" not in client.get(url("ticket", ticket_a.pk)).content.decode()
    response = client.post(url("reopen", ticket_a.pk), {"reason": "why not"}, follow=True)
    assert "Only solved requests can be reopened." in response.content.decode()
    assert snapshot(ticket_a) == before


def test_reply_to_resolved_ticket_reopens_it(client, customer_a, ticket_a):
    services.transition(ticket_a, "resolved", actor=customer_a)
    client.force_login(customer_a)
    client.post(url("reply", ticket_a.pk), {"body": "Actually it is still broken."})
    ticket_a.refresh_from_db()
    assert ticket_a.status == "in_progress"


def test_reply_to_closed_ticket_is_refused_with_a_way_forward(client, customer_a, ticket_a,
                                                              agent):
    services.transition(ticket_a, "resolved", actor=customer_a)
    services.transition(ticket_a, "closed", actor=agent)
    before = snapshot(ticket_a)
    client.force_login(customer_a)

    page = client.get(url("ticket", ticket_a.pk)).content.decode()
    assert "Mark as solved" not in page and "Send reply" not in page

    response = client.post(url("reply", ticket_a.pk), {"body": "One more thing"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "This ticket is closed. Please open a new request" in html
    assert url("new_ticket") in html
    assert snapshot(ticket_a) == before


def test_follow_up_link_prefills_a_new_request(client, customer_a, ticket_a, ticket_b):
    client.force_login(customer_a)
    own = client.get(url("new_ticket"), {"follow_up": ticket_a.pk})
    other = client.get(url("new_ticket"), {"follow_up": ticket_b.pk})
    assert ticket_a.reference in own.content.decode()
    assert ticket_b.subject not in other.content.decode()


def test_activity_shows_public_status_changes_only(client, customer_a, ticket_a, agent):
    to_waiting_on_customer(ticket_a, agent)
    services.add_reply(ticket_a, author=agent, body="note", public=False)
    client.force_login(customer_a)
    activity = client.get(url("ticket", ticket_a.pk)).context["activity"]
    texts = [item.text for item in activity]
    assert texts[0] == "Request received"
    assert "Status changed to Awaiting your reply" in texts
    assert not any("note" in text.lower() for text in texts)

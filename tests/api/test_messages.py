"""GET/POST /tickets/{id}/messages/: the conversation, public replies and internal notes."""
from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from tickets import services
from tickets.models import Message

TICKETS = "/api/v1/tickets/"


def messages_url(ticket) -> str:
    return f"{TICKETS}{ticket.pk}/messages/"


def test_customer_never_sees_internal_notes(client_for, agent, customer_a, assigned_ticket):
    services.add_reply(assigned_ticket, author=agent, body="We are on it.", public=True)
    services.add_reply(assigned_ticket, author=agent, body="Customer is on the old SDK.",
                       public=False)

    customer_bodies = [m["body"] for m in
                       client_for(customer_a).get(messages_url(assigned_ticket))
                       .json()["results"]]
    agent_bodies = [m["body"] for m in
                    client_for(agent).get(messages_url(assigned_ticket)).json()["results"]]

    assert customer_bodies == ["We are on it."]
    assert agent_bodies == ["We are on it.", "Customer is on the old SDK."]


def test_agent_posts_an_internal_note(client_for, agent, assigned_ticket):
    response = client_for(agent).post(messages_url(assigned_ticket),
                                      {"body": "Checked the proxy logs.", "public": False},
                                      format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["is_public"] is False and body["by_agent"] is True
    assert body["author"] == {"id": agent.pk, "name": agent.display_name}
    assert assigned_ticket.events.filter(kind="note").exists()
    assert Message.objects.get(pk=body["id"]).channel == "api"


def test_agent_public_reply_stamps_first_response(client_for, agent, assigned_ticket):
    response = client_for(agent).post(messages_url(assigned_ticket),
                                      {"body": "Could you send the request id?"},
                                      format="json")
    assert response.status_code == 201
    assert response.json()["is_public"] is True
    assigned_ticket.refresh_from_db()
    assert assigned_ticket.first_response_at is not None


def test_customer_cannot_post_an_internal_note(client_for, customer_a, assigned_ticket):
    response = client_for(customer_a).post(messages_url(assigned_ticket),
                                           {"body": "Secret?", "public": False}, format="json")

    # Refused with a reason rather than published: the customer asked for something else.
    assert response.status_code == 403
    assert "internal notes" in response.json()["detail"]
    assert not Message.objects.filter(ticket=assigned_ticket, body="Secret?").exists()
    assert not assigned_ticket.events.filter(kind="note").exists()


def test_multipart_reply_with_attachments(client_for, customer_a, assigned_ticket):
    files = [SimpleUploadedFile("trace.har", b"{}", content_type="application/json"),
             SimpleUploadedFile("screen.png", b"\x89PNG", content_type="image/png")]
    response = client_for(customer_a).post(messages_url(assigned_ticket),
                                           {"body": "Here you go", "attachments": files},
                                           format="multipart")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["is_public"] is True  # no "public" field in the form: still a public reply
    assert sorted(a["filename"] for a in body["attachments"]) == ["screen.png", "trace.har"]


def test_disallowed_attachment_type_is_400(client_for, customer_a, assigned_ticket):
    exe = SimpleUploadedFile("setup.exe", b"MZ", content_type="application/octet-stream")
    response = client_for(customer_a).post(messages_url(assigned_ticket),
                                           {"body": "x", "attachments": [exe]},
                                           format="multipart")
    assert response.status_code == 400
    assert ".exe" in response.json()["detail"]
    assert not Message.objects.filter(ticket=assigned_ticket).exists()


def test_empty_message_is_400(client_for, customer_a, assigned_ticket):
    response = client_for(customer_a).post(messages_url(assigned_ticket), {"body": " "},
                                           format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"body": ["The message is empty."]}


def test_reply_on_a_closed_ticket_is_400(client_for, agent, customer_a, assigned_ticket):
    services.transition(assigned_ticket, "resolved", actor=agent)
    services.transition(assigned_ticket, "closed", actor=agent)

    response = client_for(customer_a).post(messages_url(assigned_ticket), {"body": "Hello?"},
                                           format="json")

    assert response.status_code == 400
    assert "closed" in response.json()["detail"]


def test_customer_reply_brings_a_waiting_ticket_back(client_for, agent, customer_a,
                                                     assigned_ticket):
    services.transition(assigned_ticket, "waiting_on_customer", actor=agent,
                        reason="need logs")
    client_for(customer_a).post(messages_url(assigned_ticket), {"body": "Logs attached"},
                                format="json")
    assigned_ticket.refresh_from_db()
    assert assigned_ticket.status == "in_progress"


def test_message_attachments_come_with_a_permission_checked_download_url(
        customer_a, customer_b, ticket_a):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from rest_framework.test import APIClient

    from tickets import services

    services.add_reply(ticket_a, author=customer_a, body="log attached", attachments=[
        SimpleUploadedFile("trace.log", b"boom", content_type="text/plain")])
    api = APIClient()
    api.force_authenticate(customer_a)
    data = api.get(f"/api/v1/tickets/{ticket_a.pk}/messages/").json()
    url = data["results"][0]["attachments"][0]["download_url"]
    assert url.startswith("http://testserver/portal/attachments/")
    from django.test import Client

    owner, stranger = Client(), Client()
    owner.force_login(customer_a)
    stranger.force_login(customer_b)
    assert b"".join(owner.get(url).streaming_content) == b"boom"
    assert stranger.get(url).status_code == 404

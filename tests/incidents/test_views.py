"""The war-room forms and the ticket-page panel, through HTTP."""
from __future__ import annotations

from django.urls import reverse

from incidents.models import LinkSuggestion, Review
from tests.factories import make_ticket
from tickets.models import Message


def test_link_unlink_publish_resolve_through_the_room(client, declare, lead, tickets, run,
                                                      django_capture_on_commit_callbacks):
    incident = declare()
    client.force_login(lead)
    room = reverse("incidents:room", args=[incident.pk])
    ids = ", ".join(f"#{t.pk}" for t in tickets) + ", 99999"
    client.post(reverse("incidents:link", args=[incident.pk]), {"tickets": ids})
    assert incident.links.count() == 3
    client.post(reverse("incidents:unlink", args=[incident.pk, tickets[2].pk]))
    assert incident.links.count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("incidents:publish", args=[incident.pk]),
                    {"kind": "initial", "body": "Investigating now."})
    assert Message.objects.filter(body__contains="Investigating now.").count() == 2
    client.post(reverse("incidents:severity", args=[incident.pk]), {"level": 1, "reason": "worse"})
    incident.refresh_from_db()
    assert incident.severity.level == 1
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("incidents:resolve", args=[incident.pk]),
                               {"body": "All good.", "ticket_status": "resolved"})
    assert response["Location"] == room
    tickets[0].refresh_from_db()
    assert tickets[0].status == "resolved"
    tickets[2].refresh_from_db()
    assert tickets[2].status != "resolved"  # unlinked before the resolution


def test_suggestion_is_linked_with_one_click(client, declare, run, lead, customer_b, clock):
    incident = declare(keywords="sso")
    ticket = run(make_ticket, customer_b, subject="SSO down")
    suggestion = LinkSuggestion.objects.get()
    client.force_login(lead)
    live = client.get(reverse("incidents:room_live", args=[incident.pk])).content.decode()
    assert "Suggested tickets" in live and "SSO down" in live
    client.post(reverse("incidents:suggestion", args=[incident.pk, suggestion.pk]),
                {"action": "link"})
    assert incident.links.get().ticket == ticket


def test_link_from_ticket_page(client, declare, agent, tickets):
    incident = declare()
    client.force_login(agent)
    page = client.get(tickets[0].get_absolute_url()).content.decode()
    assert "Declare incident" in page and f"INC-{incident.pk}" in page  # open incident offered
    client.post(reverse("incidents:link_from_ticket", args=[tickets[0].pk]),
                {"incident": incident.pk})
    assert incident.links.get().ticket == tickets[0]
    page = client.get(tickets[0].get_absolute_url()).content.decode()
    assert "Linked to" in page


def test_review_form_completes(client, declare, lead):
    incident = declare()
    client.force_login(lead)
    url = reverse("incidents:review", args=[incident.pk])
    client.post(url, {"summary": "Outage", "root_cause": "Cert", "timeline": "t",
                      "impact": "i", "went_well": "", "to_improve": "", "complete": "1"})
    assert Review.objects.get().completed_at is not None
    client.post(reverse("incidents:add_action", args=[incident.pk]), {"title": "Fix alerts"})
    assert "Fix alerts" in client.get(reverse("incidents:actions")).content.decode()


def test_incident_list(client, declare, agent):
    incident = declare(title="Broken search")
    client.force_login(agent)
    page = client.get(reverse("incidents:list")).content.decode()
    assert "Broken search" in page and f"INC-{incident.pk}" in page
    assert "Broken search" not in client.get(reverse("incidents:list") + "?state=resolved"
                                             ).content.decode()

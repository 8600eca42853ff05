"""The public status page and feed show public updates only; the war room and the API
are for staff, everybody else gets a 404 (anonymous visitors are sent to log in)."""
from __future__ import annotations

import pytest
from django.urls import reverse

from incidents import services
from incidents.models import RoleKind

from .conftest import MIN, START

SECRET = "root cause: the db password rotated"


@pytest.fixture
def outage(declare, run, lead, tickets, clock):
    incident = declare(title="Login outage", tickets=tickets,
                       description="Internal: auth DB failover")
    services.add_entry(incident, kind="note", body=SECRET, actor=lead)
    run(services.publish_update, incident, kind="initial",
        body="We are investigating failed logins.", actor=lead)
    return incident


def test_status_page_shows_public_updates_never_internal_entries(client, outage):
    response = client.get(reverse("status:page"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Login outage" in html and "We are investigating failed logins." in html
    assert SECRET not in html and "auth DB failover" not in html
    assert "Incident commander" not in html


def test_status_incident_and_feed(client, outage):
    page = client.get(reverse("status:incident", args=[outage.pk])).content.decode()
    assert "We are investigating failed logins." in page and SECRET not in page
    feed = client.get(reverse("status:feed"))
    assert feed.status_code == 200 and feed["Content-Type"].startswith("application/atom+xml")
    body = feed.content.decode()
    assert "We are investigating failed logins." in body and SECRET not in body


def test_private_incident_is_not_on_the_status_page(client, declare, run, lead, clock):
    hidden = declare(title="Secret migration", is_public=False)
    run(services.publish_update, hidden, kind="initial", body="Hidden words.", actor=lead)
    assert "Secret migration" not in client.get(reverse("status:page")).content.decode()
    assert client.get(reverse("status:incident", args=[hidden.pk])).status_code == 404
    assert "Hidden words." not in client.get(reverse("status:feed")).content.decode()


def test_resolved_incidents_stay_listed_for_two_weeks(client, outage, run, lead, clock):
    run(services.resolve, outage, body="Logins work again.", actor=lead)
    html = client.get(reverse("status:page")).content.decode()
    assert "Recently resolved" in html and "Logins work again." in html
    clock.move_to(START + 15 * 24 * 60 * MIN)
    from django.core.cache import cache

    cache.clear()
    assert "Login outage" not in client.get(reverse("status:page")).content.decode()


def test_customer_sees_the_update_on_their_ticket_but_never_the_room(client, outage,
                                                                     customer_a, tickets):
    client.force_login(customer_a)
    page = client.get(reverse("portal:ticket", args=[tickets[0].pk])).content.decode()
    assert "We are investigating failed logins." in page and SECRET not in page
    for name in ("room", "room_live", "review"):
        assert client.get(reverse(f"incidents:{name}", args=[outage.pk])).status_code == 404
    assert client.get(reverse("incidents:list")).status_code == 404
    assert client.post(reverse("incidents:add_entry", args=[outage.pk]),
                       {"kind": "note", "body": "x"}).status_code == 404
    assert client.get(f"/api/v1/incidents/{outage.pk}/").status_code == 404
    assert client.get("/api/v1/incidents/").json()["results"] == []


def test_anonymous_is_sent_to_log_in(client, outage):
    response = client.get(reverse("incidents:room", args=[outage.pk]))
    assert response.status_code == 302 and "login" in response["Location"]


def test_agent_sees_the_live_room(client, outage, agent):
    client.force_login(agent)
    page = client.get(reverse("incidents:room", args=[outage.pk])).content.decode()
    assert SECRET in page and 'hx-trigger="every 10s"' in page
    assert "Incident commander" in page and "Lena" in page
    live = client.get(reverse("incidents:room_live", args=[outage.pk])).content.decode()
    assert "Alice" in live and "Enterprise" in live  # customers and tiers of linked tickets
    assert "data-countdown" in live  # next update countdown
    api = client.get(f"/api/v1/incidents/{outage.pk}/").json()
    assert api["severity"] == "SEV2" and api["ticket_count"] == 3
    assert any(e["body"] == SECRET for e in api["timeline"])


def test_war_room_forms_post_through_services(client, outage, lead, agent):
    client.force_login(lead)
    url = reverse("incidents:add_entry", args=[outage.pk])
    assert client.post(url, {"kind": "decision", "body": "Fail back"}).status_code == 302
    client.post(reverse("incidents:assign_role", args=[outage.pk]),
                {"role": RoleKind.SCRIBE, "user": agent.pk})
    client.post(reverse("incidents:status", args=[outage.pk]), {"status": "identified"})
    outage.refresh_from_db()
    assert outage.status == "identified"
    assert outage.roles.filter(role="scribe", user=agent).exists()
    assert outage.timeline.filter(kind="decision", body="Fail back").exists()


def test_declare_from_a_ticket_page(client, agent, tickets, clock):
    client.force_login(agent)
    url = reverse("incidents:declare") + f"?ticket={tickets[0].pk}"
    page = client.get(url).content.decode()
    assert "Login fails" in page
    response = client.post(reverse("incidents:declare"), {
        "title": "SSO down", "users_affected": "all", "impact": "complete",
        "tickets": str(tickets[0].pk), "is_public": "on"})
    assert response.status_code == 302
    from incidents.models import Incident

    incident = Incident.objects.get()
    assert incident.severity.level == 1 and incident.links.get().ticket == tickets[0]
    ticket_page = client.get(tickets[0].get_absolute_url()).content.decode()
    assert f"INC-{incident.pk}" in ticket_page  # banner on the ticket page


def test_status_page_is_rate_limited(client, db):
    from incidents import views_status

    for _ in range(views_status.RATE_LIMIT):
        client.get(reverse("status:page"))
    assert client.get(reverse("status:page")).status_code == 429


def test_queue_bulk_bar_declares_from_selected(client, agent, tickets):
    client.force_login(agent)
    queue = client.get(reverse("agent:queue", args=["mine"])).content.decode()
    assert reverse("incidents:bulk_declare") in queue
    response = client.post(reverse("incidents:bulk_declare"),
                           {"ids": [tickets[0].pk, tickets[1].pk]})
    assert response.status_code == 302
    assert response["Location"].endswith(f"?ticket={tickets[0].pk}&ticket={tickets[1].pk}")
    page = client.get(response["Location"]).content.decode()
    assert "Login fails" in page and "Cannot sign in" in page

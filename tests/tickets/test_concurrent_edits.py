"""Two agents changing the same ticket at once never lose a change silently.

The agent form carries the values it was rendered with: fields the agent did not touch are
left as they are now (a merge), and a field both changed is a visible conflict (409,
nothing saved). The API offers an ETag and honours If-Match (412).
"""
from __future__ import annotations

import json
import threading

import pytest
from django.db import connection
from django.urls import reverse

from tickets import services
from tickets.forms import UpdateForm
from tickets.models import Priority, Ticket

pytestmark = pytest.mark.django_db


def form_post(ticket: Ticket, **edits) -> dict:
    """What the browser posts: the form as rendered for `ticket`, with the agent's edits."""
    form = UpdateForm(ticket=ticket)
    data = {name: form.initial.get(name) for name in form.fields}
    data = {k: ("" if v is None else v) for k, v in data.items()}
    data.update(edits)
    return data


def test_edits_of_different_fields_are_merged(client, agent, lead, ticket_a):
    client.force_login(agent)
    stale = form_post(ticket_a, tags="vip")  # agent opened the ticket and adds a tag...
    services.update_ticket(ticket_a, actor=lead, changes={"priority": Priority.P1})  # ...lead
    response = client.post(reverse("agent:update", args=[ticket_a.pk]), stale)
    assert response.status_code == 302
    ticket_a.refresh_from_db()
    assert ticket_a.priority == Priority.P1  # the lead's change survived
    assert list(ticket_a.tags.values_list("name", flat=True)) == ["vip"]


def test_the_same_field_changed_twice_is_a_visible_conflict(client, agent, lead, ticket_a):
    client.force_login(agent)
    stale = form_post(ticket_a, priority=Priority.P2, tags="vip")
    services.update_ticket(ticket_a, actor=lead, changes={"priority": Priority.P1})
    response = client.post(reverse("agent:update", args=[ticket_a.pk]), stale)
    assert response.status_code == 409
    html = response.content.decode()
    assert "Changed by someone else while you were editing: priority is now P1" in html
    ticket_a.refresh_from_db()
    assert ticket_a.priority == Priority.P1
    assert not ticket_a.tags.exists()  # nothing of the refused edit was saved


def test_htmx_conflict_reloads_the_ticket_with_the_message(client, agent, lead, ticket_a):
    client.force_login(agent)
    stale = form_post(ticket_a, priority=Priority.P2)
    services.update_ticket(ticket_a, actor=lead, changes={"priority": Priority.P1})
    response = client.post(reverse("agent:update", args=[ticket_a.pk]), stale,
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 409 and response["HX-Refresh"] == "true"
    page = client.get(reverse("agent:ticket", args=[ticket_a.pk])).content.decode()
    assert "priority is now P1" in page


def test_a_damaged_base_is_refused(client, agent, ticket_a):
    client.force_login(agent)
    data = form_post(ticket_a, priority=Priority.P2, base=json.dumps({"priority": 3}))
    response = client.post(reverse("agent:update", args=[ticket_a.pk]), data)
    assert response.status_code == 400
    ticket_a.refresh_from_db()
    assert ticket_a.priority != Priority.P2


def test_api_etag_and_if_match(client, agent, lead, ticket_a):
    client.force_login(agent)
    url = f"/api/v1/tickets/{ticket_a.pk}/"
    etag = client.get(url)["ETag"]
    services.update_ticket(ticket_a, actor=lead, changes={"priority": Priority.P1})
    stale = client.patch(url, {"priority": 2}, content_type="application/json",
                         HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    ticket_a.refresh_from_db()
    assert ticket_a.priority == Priority.P1
    fresh_etag = client.get(url)["ETag"]
    assert fresh_etag != etag
    ok = client.patch(url, {"priority": 2}, content_type="application/json",
                      HTTP_IF_MATCH=fresh_etag)
    assert ok.status_code == 200 and ok.json()["priority"] == 2
    assert ok["ETag"] != fresh_etag
    # Without If-Match the fields sent are applied (PATCH semantics).
    assert client.patch(url, {"priority": 3}, content_type="application/json") \
        .status_code == 200


@pytest.mark.django_db(transaction=True)
def test_simultaneous_edits_of_one_field_one_wins_one_conflicts(agent, lead, ticket_a):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (SQLite serialises whole-database writes)")
    base = {"priority": ticket_a.priority}
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def edit(actor, value):
        try:
            barrier.wait(timeout=10)
            services.update_ticket(Ticket.objects.get(pk=ticket_a.pk), actor=actor,
                                   changes={"priority": value}, expected=base)
            outcomes.append("saved")
        except services.ConflictError:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=edit, args=(agent, Priority.P1)),
               threading.Thread(target=edit, args=(lead, Priority.P2))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["conflict", "saved"]
    ticket_a.refresh_from_db()
    assert ticket_a.priority in (Priority.P1, Priority.P2)

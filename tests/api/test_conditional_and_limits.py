"""Conditional GET of a ticket (ETag, If-None-Match -> 304) and the rate-limit headers every
API answer carries (X-RateLimit-Limit / -Remaining, Retry-After on 429)."""
from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework import throttling
from rest_framework.test import APIClient

from helpdesk.models import Team
from tickets import services
from tickets.models import Priority

from ..factories import PACKET

TICKETS = "/api/v1/tickets/"


def test_unchanged_ticket_answers_304_without_a_body(client_for, agent, assigned_ticket):
    client = client_for(agent)
    url = f"{TICKETS}{assigned_ticket.pk}/"
    etag = client.get(url)["ETag"]

    again = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == etag
    weak = client.get(url, HTTP_IF_NONE_MATCH=f'"nope", W/{etag}')
    assert weak.status_code == 304
    assert client.get(url, HTTP_IF_NONE_MATCH='"nope"').status_code == 200


@pytest.mark.parametrize("change", ["message", "field", "team_name"])
def test_what_the_ticket_shows_changes_its_etag(client_for, agent, manager, assigned_ticket,
                                                change):
    client = client_for(agent)
    url = f"{TICKETS}{assigned_ticket.pk}/"
    etag = client.get(url)["ETag"]
    if change == "message":
        services.add_reply(assigned_ticket, author=agent, body="On it.", public=True)
    elif change == "field":
        services.update_ticket(assigned_ticket, actor=manager,
                               changes={"priority": Priority.P1})
    else:  # not the ticket's row: only the representation's digest can tell
        Team.objects.filter(pk=assigned_ticket.team_id).update(name="Tier one")

    response = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert response["ETag"] != etag


def test_agent_and_customer_views_have_different_etags(client_for, agent, manager, l2,
                                                       customer_a, assigned_ticket):
    services.escalate(assigned_ticket, to_team=l2, packet=PACKET, actor=agent)
    url = f"{TICKETS}{assigned_ticket.pk}/"
    agents = client_for(manager).get(url)["ETag"]  # with the handoff packet
    response = client_for(customer_a).get(url, HTTP_IF_NONE_MATCH=agents)
    assert response.status_code == 200 and response["ETag"] != agents


def test_if_match_still_takes_the_etag_of_a_get(client_for, agent, assigned_ticket):
    client = client_for(agent)
    url = f"{TICKETS}{assigned_ticket.pk}/"
    etag = client.get(url)["ETag"]
    ok = client.patch(url, {"priority": 2}, format="json", HTTP_IF_MATCH=etag)
    assert ok.status_code == 200
    stale = client.patch(url, {"priority": 1}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412


def _limits(response) -> tuple[int, int]:
    return int(response["X-RateLimit-Limit"]), int(response["X-RateLimit-Remaining"])


def _rates(monkeypatch, **rates: str) -> None:
    # DRF reads the rates once, into the class, when it is imported.
    monkeypatch.setattr(throttling.SimpleRateThrottle, "THROTTLE_RATES", rates)


def test_every_api_answer_says_what_is_left(monkeypatch, client_for, agent, ticket_a):
    _rates(monkeypatch, anon="5/minute", user="50/minute")
    client = client_for(agent)
    assert _limits(client.get(TICKETS)) == (50, 49)
    assert _limits(client.get(TICKETS)) == (50, 48)
    assert _limits(client.get(f"{TICKETS}{ticket_a.pk}/")) == (50, 47)  # a 404 too
    # No API view, so no token check: the address's (anonymous) figures, not counted.
    assert _limits(client.get("/api/v1/no-such-thing/")) == (5, 5)

    anonymous = APIClient()
    assert _limits(anonymous.get(TICKETS)) == (5, 5)  # 401 before the throttle: peeked
    bad_token = anonymous.get(TICKETS, HTTP_AUTHORIZATION="Token nope")
    assert bad_token.status_code == 401 and _limits(bad_token) == (5, 5)


def test_throttled_answer_says_when_to_retry(monkeypatch, client_for, agent):
    _rates(monkeypatch, anon="5/minute", user="2/minute")
    cache.clear()
    client = client_for(agent)
    assert [client.get(TICKETS).status_code for _ in range(2)] == [200, 200]
    throttled = client.get(TICKETS)
    assert throttled.status_code == 429
    assert _limits(throttled) == (2, 0)
    assert 0 < int(throttled["Retry-After"]) <= 60


def test_pages_outside_the_api_carry_no_rate_limit_headers(client):
    assert "X-RateLimit-Limit" not in client.get("/accounts/login/")

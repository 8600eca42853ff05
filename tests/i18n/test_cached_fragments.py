"""A cached fragment holds translated text: a German agent and an English colleague on the
same ticket version each read the conversation in their own language, whoever's request
filled the cache first."""
from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from helpdesk.roles import Role
from tests.factories import make_ticket, make_user
from tickets import services

pytestmark = pytest.mark.django_db

GERMAN = '<span class="badge note-badge">Interne Notiz</span>'
ENGLISH = '<span class="badge note-badge">Internal note</span>'


def conversation(user, ticket) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(reverse("agent:conversation", args=[ticket.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_conversation_fragment_is_cached_per_language(agentin, l1, customer_a):
    # The same time zone as the German agent: only the language tells the two apart.
    agent = make_user(Role.AGENT, teams=(l1,), username="emma", time_zone="Europe/Berlin")
    cache.clear()
    ticket = make_ticket(customer_a)
    services.add_reply(ticket, author=agent, body="Checked the logs.", public=False)
    german = conversation(agentin, ticket)
    english = conversation(agent, ticket)
    assert GERMAN in german and ENGLISH not in german
    assert ENGLISH in english and GERMAN not in english
    # Both again, now from the cache: still each in their own language.
    assert GERMAN in conversation(agentin, ticket)
    assert ENGLISH in conversation(agent, ticket)

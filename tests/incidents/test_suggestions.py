"""New tickets whose text matches an open incident's keywords are suggested for linking."""
from __future__ import annotations

from incidents import services
from incidents.matching import matches, parse_keywords
from incidents.models import IncidentTicket, LinkSuggestion
from tests.factories import make_ticket


def test_keyword_matching_is_whole_words():
    kws = parse_keywords("SSO, login page ,  ab, sso")
    assert kws == ["sso", "login page"]
    assert matches(kws, "Our SSO is broken") == ["sso"]
    assert matches(kws, "The Login  Page hangs") == ["login page"]
    assert matches(kws, "Pseudossology") == []


def test_new_ticket_is_suggested_and_linked_in_one_click(declare, run, lead, customer_b,
                                                         clock):
    incident = declare(keywords="sso, login page")
    matching = run(make_ticket, customer_b, subject="SSO broken", description="Since 9:00")
    run(make_ticket, customer_b, subject="Invoice", description="Charged twice")
    suggestion = LinkSuggestion.objects.get()
    assert (suggestion.incident, suggestion.ticket, suggestion.matched) == (incident, matching,
                                                                           "sso")
    services.accept_suggestion(suggestion, actor=lead)
    assert IncidentTicket.objects.filter(incident=incident, ticket=matching).exists()
    assert not LinkSuggestion.objects.exists()


def test_resolved_incidents_suggest_nothing(declare, run, lead, customer_b, clock):
    incident = declare(keywords="sso")
    run(services.resolve, incident, body="Fixed.", actor=lead)
    run(make_ticket, customer_b, subject="SSO broken")
    assert not LinkSuggestion.objects.exists()


def test_link_and_unlink(declare, lead, tickets):
    incident = declare()
    assert services.link_tickets(incident, tickets, actor=lead) == 3
    assert services.link_tickets(incident, tickets, actor=lead) == 0
    assert services.unlink_ticket(incident, tickets[0], actor=lead)
    assert incident.links.count() == 2
    assert incident.timeline.filter(kind="link").count() == 2

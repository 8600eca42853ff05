"""Customers never see casework, and agents only act on tickets they can see: 404 otherwise."""
import pytest

from casework import services
from casework.models import Evidence, Investigation, Playbook
from tests.factories import PACKET, make_ticket
from tickets import services as ts

from .conftest import make_playbook

PAGES = ["/casework/dashboard/", "/casework/feedback/", "/casework/at-risk/",
         "/casework/voice-of-customer/"]
ACTIONS = ["investigation/", "evidence/", "draft-playbook/", "links/", "feedback/",
           "champion/", "return-escalation/"]


@pytest.fixture
def l2_ticket(customer_a, agent, l2):
    return ts.escalate(make_ticket(customer_a), to_team=l2, packet=PACKET, actor=agent)


@pytest.mark.parametrize("url", PAGES)
def test_customers_get_404_on_every_page(client, customer_a, org_admin_a, url):
    for user in (customer_a, org_admin_a):
        client.force_login(user)
        assert client.get(url).status_code == 404


def test_anonymous_users_are_sent_to_sign_in(client):
    response = client.get("/casework/feedback/")
    assert response.status_code == 302 and "/login" in response["Location"]


@pytest.mark.parametrize("action", ACTIONS)
def test_customers_and_other_teams_cannot_act_on_a_ticket(client, customer_a, agent,
                                                          l2_ticket, action):
    url = f"/casework/tickets/{l2_ticket.pk}/{action}"
    data = {"goal": "x", "kind": "log", "summary": "x", "missing": "x", "note": "x",
            "title": "x", "quote": "x", "key": "K-1", "url": "https://x.example/1",
            "tracker": "jira"}
    client.force_login(customer_a)  # her own ticket, still a 404
    assert client.post(url, data).status_code == 404
    client.force_login(agent)  # L1: the ticket went to L2, out of Agnes's view
    assert client.post(url, data).status_code == 404
    assert not Investigation.objects.exists() and not Evidence.objects.exists()


def test_ids_of_another_ticket_are_404(client, customer_a, l2_agent, l2_ticket, agent, l2,
                                       api_cat):
    other = ts.escalate(make_ticket(customer_a), to_team=l2, packet=PACKET, actor=agent)
    ev = services.add_evidence(other, actor=l2_agent, kind="log", summary="x")
    p = make_playbook("P", categories=[api_cat])
    run = services.start_playbook(other, p, actor=l2_agent)
    client.force_login(l2_agent)
    base = f"/casework/tickets/{l2_ticket.pk}"
    assert client.post(f"{base}/evidence/{ev.pk}/verify/").status_code == 404
    assert client.post(f"{base}/runs/{run.pk}/steps/{p.steps.first().pk}/",
                       {"done": "1"}).status_code == 404
    Playbook.objects.filter(pk=p.pk).update(is_active=False)
    assert client.post(f"{base}/playbooks/{p.pk}/start/").status_code == 404


def test_customer_portal_shows_nothing_of_it(client, customer_a, l2_agent, l2_ticket):
    services.save_investigation(l2_ticket, actor=l2_agent, data={"hypothesis": "SECRET-HYPO"})
    client.force_login(customer_a)
    page = client.get(f"/portal/tickets/{l2_ticket.pk}/")
    assert page.status_code == 200
    assert b"SECRET-HYPO" not in page.content and b"casework-panel" not in page.content


def test_api(client, customer_a, l2_agent, agent, l2_ticket):
    services.save_investigation(l2_ticket, actor=l2_agent, data={"hypothesis": "DNS"})
    link = services.link_engineering(l2_ticket, actor=l2_agent, tracker="github", key="#12",
                                     url="https://github.com/x/y/issues/12")
    client.force_login(l2_agent)
    body = client.get(f"/api/v1/tickets/{l2_ticket.pk}/investigation/").json()
    assert body["investigation"]["hypothesis"] == "DNS"
    assert body["engineering_links"][0]["key"] == "#12"
    r = client.post(f"/api/v1/casework/engineering-links/{link.pk}/status/",
                    {"status": "closed"}, content_type="application/json")
    assert r.status_code == 200 and r.json()["status"] == "closed"
    for user in (customer_a, agent):
        client.force_login(user)
        assert client.get(f"/api/v1/tickets/{l2_ticket.pk}/investigation/").status_code == 404
        assert client.post(f"/api/v1/casework/engineering-links/{link.pk}/status/",
                           {"status": "x"}, content_type="application/json").status_code == 404

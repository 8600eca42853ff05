"""An internal article never reaches customers: not in search, suggestions, sitemap, API
or by its address. Drafts reach nobody outside the workspace."""
from __future__ import annotations

import pytest

from knowledge import services
from knowledge.models import Audience

from .conftest import publish


@pytest.fixture
def kb(db):
    return {
        "internal": publish("Refund override runbook", body="Agents can override refunds.",
                            audience=Audience.INTERNAL),
        "customers": publish("Refund policy for customers", body="Refunds within 30 days.",
                             audience=Audience.CUSTOMERS),
        "public": publish("Refund overview", body="How refunds work."),
        "draft": services.create_article(title="Refund draft", author=None, body="refund"),
    }


def _titles(html: str, kb) -> set[str]:
    return {a.title for a in kb.values() if a.title in html}


def test_search_page_respects_audience(kb, client, customer_a, agent):
    q = {"q": "refund"}
    assert _titles(client.get("/help/search/", q).content.decode(), kb) == {"Refund overview"}
    client.force_login(customer_a)
    assert _titles(client.get("/help/search/", q).content.decode(), kb) == {
        "Refund overview", "Refund policy for customers"}
    client.force_login(agent)
    assert _titles(client.get("/help/search/", q).content.decode(), kb) == {
        "Refund overview", "Refund policy for customers", "Refund override runbook"}


def test_suggestions_never_show_internal_articles(kb, client, customer_a):
    client.force_login(customer_a)
    html = client.get("/help/suggest/", {"subject": "refund override",
                                          "description": "refund runbook"}).content.decode()
    assert "Refund override runbook" not in html
    assert "Refund policy for customers" in html


def test_article_pages_are_404_outside_their_audience(kb, client, customer_a, agent):
    assert client.get(kb["internal"].get_absolute_url()).status_code == 404
    assert client.get(kb["customers"].get_absolute_url()).status_code == 404
    assert client.get(kb["draft"].get_absolute_url()).status_code == 404
    assert client.get(kb["public"].get_absolute_url()).status_code == 200
    client.force_login(customer_a)
    assert client.get(kb["internal"].get_absolute_url()).status_code == 404
    assert client.get(kb["customers"].get_absolute_url()).status_code == 200
    client.force_login(agent)
    assert client.get(kb["internal"].get_absolute_url()).status_code == 200
    assert client.get(kb["draft"].get_absolute_url()).status_code == 404


def test_sitemap_lists_public_published_articles_only(kb, client):
    xml = client.get("/help/sitemap.xml").content.decode()
    assert kb["public"].get_absolute_url() in xml
    for key in ("internal", "customers", "draft"):
        assert kb[key].get_absolute_url() not in xml


def test_api_respects_audience(kb, client, customer_a):
    listed = client.get("/api/v1/kb/articles/").json()["results"]
    assert [a["title"] for a in listed] == ["Refund overview"]
    assert client.get(f"/api/v1/kb/articles/{kb['internal'].slug}/").status_code == 404
    found = client.get("/api/v1/kb/search/", {"q": "refund"}).json()["results"]
    assert [a["title"] for a in found] == ["Refund overview"]
    client.force_login(customer_a)
    assert client.get(f"/api/v1/kb/articles/{kb['internal'].slug}/").status_code == 404
    assert client.get(f"/api/v1/kb/articles/{kb['customers'].slug}/").status_code == 200
    found = client.get("/api/v1/kb/search/", {"q": "refund override"}).json()["results"]
    assert "Refund override runbook" not in [a["title"] for a in found]


def test_workspace_pages_are_404_for_customers(kb, client, customer_a, agent):
    client.force_login(customer_a)
    for url in ("/help/manage/", "/help/manage/dashboard/", "/help/manage/searches/",
                f"/help/manage/articles/{kb['draft'].pk}/"):
        assert client.get(url).status_code == 404, url
    client.force_login(agent)  # agents edit, but the dashboard is for leads and managers
    assert client.get("/help/manage/").status_code == 200
    assert client.get("/help/manage/dashboard/").status_code == 404

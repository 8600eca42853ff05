"""Help-center and workspace pages render what a reader or a lead expects."""
from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from knowledge.models import SearchLog, Section

from .conftest import publish


def test_help_center_home_section_and_search_pages(db, client):
    top = Section.objects.create(name="Billing", slug="billing")
    sub = Section.objects.create(name="Invoices", slug="invoices", parent=top)
    publish("Download your invoices", section=sub, summary="Billing > Invoices.")
    home = client.get("/help/").content.decode()
    assert "Billing" in home and "Invoices" in home and "Download your invoices" in home
    section = client.get("/help/sections/invoices/").content.decode()
    assert "Download your invoices" in section and 'href="/help/sections/billing/"' in section
    page = client.get("/help/search/", {"q": "invoices"}).content.decode()
    assert "Download your invoices" in page
    assert "/portal/tickets/new/?subject=invoices" in page  # still need help?


def test_search_reports_page(db, client, manager):
    now = timezone.now()
    for query, results in (("vpn", 0), ("vpn", 0), ("invoice", 4)):
        SearchLog.objects.create(query=query, result_count=results,
                                 created_at=now - timedelta(hours=1))
    client.force_login(manager)
    html = client.get("/help/manage/searches/").content.decode()
    assert '<th scope="row">vpn</th><td>2</td>' in html
    assert '<th scope="row">invoice</th><td>1</td>' in html


def test_workspace_list_and_new_article_from_a_template(db, client, agent):
    client.force_login(agent)
    assert client.get("/help/manage/").status_code == 200
    r = client.post("/help/manage/new/", {"title": "Rotate an API token",
                                          "template": "howto", "audience": "public"})
    assert r.status_code == 302
    page = client.get(r["Location"]).content.decode()
    assert "## Steps" in page and "Rotate an API token" in page

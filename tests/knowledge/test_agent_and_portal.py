"""The knowledge panel on the agent ticket page, and the portal's new-ticket form."""
from __future__ import annotations

import pytest

from helpdesk.models import Notification
from knowledge.models import Article, ArticleFlag, ArticleStatus, Audience
from tickets import services as ticket_services
from tickets.state_machine import Status

from .conftest import publish


@pytest.fixture
def kb(db, writer):
    return {
        "public": publish("Cannot log in after a password change",
                          body="Clear cookies and sign in again.", owner=writer),
        "internal": publish("Login escalation runbook", body="Check the IdP logs.",
                            audience=Audience.INTERNAL, owner=writer),
    }


def test_panel_suggests_articles_from_subject_and_description(kb, client, agent, ticket_a):
    client.force_login(agent)
    ticket_page = client.get(f"/agent/tickets/{ticket_a.pk}/").content.decode()
    assert 'id="kb-panel"' in ticket_page
    assert 'id="reply_body"' in ticket_page  # the textarea the link goes into
    assert f'hx-get="/help/agent/tickets/{ticket_a.pk}/search/"' in ticket_page
    page = client.get(f"/help/agent/tickets/{ticket_a.pk}/search/",
                      HTTP_HX_REQUEST="true").content.decode()
    assert "Cannot log in after a password change" in page
    assert "Login escalation runbook" in page  # agents see internal articles
    # Only customer-visible articles can be linked into a reply.
    assert f'data-kb-insert="http://testserver/help/articles/{kb["public"].slug}/"' in page
    assert f'/help/articles/{kb["internal"].slug}/" data-kb-title' not in page


def test_panel_search_box(kb, client, agent, ticket_a):
    client.force_login(agent)
    html = client.get(f"/help/agent/tickets/{ticket_a.pk}/search/", {"q": "runbook"},
                      HTTP_HX_REQUEST="true").content.decode()
    assert "Login escalation runbook" in html
    assert "Cannot log in after" not in html


def test_agent_flags_an_article_from_a_ticket_and_the_owner_is_told(
        kb, client, agent, writer, ticket_a):
    client.force_login(agent)
    r = client.post(f"/help/agent/tickets/{ticket_a.pk}/flag/",
                    {"article": kb["public"].pk, "kind": "outdated",
                     "note": "The cookie step is gone"}, HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and "flagged as outdated" in r.content.decode()
    flag = ArticleFlag.objects.get()
    assert (flag.article, flag.ticket, flag.reporter, flag.kind) == (
        kb["public"], ticket_a, agent, "outdated")
    note = Notification.objects.get(recipient=writer, source="knowledge.flag")
    assert "The cookie step is gone" in note.body


def test_customers_cannot_use_the_panel_endpoints(kb, client, customer_a, ticket_a, ticket_b,
                                                   agent):
    client.force_login(customer_a)
    assert client.post(f"/help/agent/tickets/{ticket_a.pk}/flag/",
                       {"article": kb["public"].pk, "kind": "wrong"}).status_code == 404
    assert client.get(f"/help/agent/tickets/{ticket_a.pk}/search/").status_code == 404
    assert ArticleFlag.objects.count() == 0


def test_draft_article_from_a_resolved_ticket(kb, client, agent, ticket_a):
    client.force_login(agent)
    r = client.post(f"/help/agent/tickets/{ticket_a.pk}/draft/")
    assert r.status_code == 302 and Article.objects.count() == 2  # not resolved yet
    ticket_services.add_reply(ticket_a, author=agent, public=True,
                              body="Clear the SSO session at the IdP, then sign in again.")
    ticket_services.transition(ticket_a, Status.RESOLVED, actor=agent, reason="fixed")
    r = client.post(f"/help/agent/tickets/{ticket_a.pk}/draft/")
    draft = Article.objects.get(created_from_ticket=ticket_a)
    assert r.status_code == 302 and r["Location"] == f"/help/manage/articles/{draft.pk}/"
    assert draft.status == ArticleStatus.DRAFT and draft.owner == agent
    assert draft.title == ticket_a.subject
    assert "## Problem" in draft.body and ticket_a.description in draft.body
    assert "Clear the SSO session at the IdP" in draft.body
    assert client.get(draft.get_absolute_url()).status_code == 404  # not public yet


def test_still_need_help_prefills_the_ticket_form(kb, client, customer_a):
    client.force_login(customer_a)
    client.get("/help/search/", {"q": "password change"})
    page = client.get(kb["public"].get_absolute_url()).content.decode()
    assert "/portal/tickets/new/?subject=password+change" in page
    form = client.get("/portal/tickets/new/", {"subject": "password change <b>x</b>"})
    html = form.content.decode()
    assert 'value="password change &lt;b&gt;x&lt;/b&gt;"' in html
    assert 'id="kb-suggestions"' in html and "/help/suggest/" in html


def test_editor_publishes_new_content_without_taking_the_article_offline(kb, client, writer):
    client.force_login(writer)
    article = kb["public"]
    client.post(f"/help/manage/articles/{article.pk}/",
                {"action": "save", "title": article.title, "summary": "",
                 "body": "Brand new steps."})
    assert "Brand new steps." not in client.get(article.get_absolute_url()).content.decode()
    client.post(f"/help/manage/articles/{article.pk}/",
                {"action": "publish", "title": article.title, "summary": "",
                 "body": "Brand new steps."})
    assert "Brand new steps." in client.get(article.get_absolute_url()).content.decode()


def test_agent_editor_cannot_publish(kb, client, agent):
    client.force_login(agent)
    article = kb["public"]
    page = client.get(f"/help/manage/articles/{article.pk}/").content.decode()
    assert 'value="publish"' not in page
    client.post(f"/help/manage/articles/{article.pk}/",
                {"action": "publish", "title": "Hijacked", "summary": "", "body": "x"})
    article.refresh_from_db()
    assert article.title != "Hijacked"


def test_panel_and_ticket_form_answer_a_question_with_a_typo(kb, client, agent, ticket_a):
    """The agent panel and the portal's suggestions rank as the help-center search does."""
    client.force_login(agent)
    html = client.get(f"/help/agent/tickets/{ticket_a.pk}/search/",
                      {"q": "why can't I login after changing my pasword"},
                      HTTP_HX_REQUEST="true").content.decode()
    assert html.index("Cannot log in after a password change") < html.index(
        "Login escalation runbook")
    client.logout()
    html = client.get("/help/suggest/", {"subject": "cant sign in after pasword change"},
                      HTTP_HX_REQUEST="true").content.decode()
    assert "Cannot log in after a password change" in html
    assert "Login escalation runbook" not in html

"""Help-center search: ranking, prefixes, typos, synonyms, audiences, safe snippets.

Runs on SQLite (FTS5) and PostgreSQL (tsvector + pg_trgm) alike."""
from __future__ import annotations

import pytest

from knowledge import search, services
from knowledge.models import Audience, Synonym

from .conftest import publish

PUBLIC = (Audience.PUBLIC,)
EVERYONE = (Audience.PUBLIC, Audience.CUSTOMERS, Audience.INTERNAL)


@pytest.fixture
def articles(db):
    body_heavy = publish(
        "Browser settings overview",
        body="Your browser may remember a password. Saved password managers fill the password "
             "field for you; clear the saved password if it is old.")
    title_match = publish("Reset your password", summary="Use the Forgot link on the login page.",
                          body="Open the page and follow the e-mail.")
    other = publish("Export invoices to CSV", body="Billing > Invoices > Export.")
    return {"body": body_heavy, "title": title_match, "other": other}


def titles(result):
    return [h.title for h in result.hits]


def test_title_match_ranks_above_body_matches(articles):
    result = search.search("password", audiences=PUBLIC)
    assert titles(result)[:2] == ["Reset your password", "Browser settings overview"]


def test_last_word_matches_as_a_prefix_while_typing(articles):
    assert titles(search.search("invo", audiences=PUBLIC)) == ["Export invoices to CSV"]
    assert titles(search.search("reset pass", audiences=PUBLIC))[0] == "Reset your password"


def test_articles_with_every_word_come_before_those_with_some(articles):
    # "Browser settings overview" says "password" five times, but not "reset".
    assert titles(search.search("reset password", audiences=PUBLIC)) == [
        "Reset your password", "Browser settings overview"]


def test_one_unknown_word_does_not_empty_the_result(articles):
    assert titles(search.search("how do I reset my password please iphone",
                                audiences=PUBLIC))[0] == "Reset your password"


def test_stop_words_alone_find_nothing(articles):
    assert titles(search.search("how do I ", audiences=PUBLIC)) == []


def test_misspelt_query_finds_the_article(articles):
    result = search.search("pasword resett", audiences=PUBLIC)
    assert titles(result)[0] == "Reset your password"
    assert result.corrected


def test_synonyms_expand_the_query(db, synonyms):
    publish("How to log in with SSO", body="Use your company identity provider.")
    publish("Login troubleshooting", body="Clear cookies.")
    found = set(titles(search.search("sign in", audiences=PUBLIC)))
    assert found == {"How to log in with SSO", "Login troubleshooting"}
    assert "How to log in with SSO" in titles(search.search("login", audiences=PUBLIC))


def test_shipped_synonyms_join_sign_in_and_login(db):
    publish("Login troubleshooting", body="Clear cookies.")
    assert titles(search.search("sign in", audiences=PUBLIC)) == ["Login troubleshooting"]
    assert titles(search.search("signin", audiences=PUBLIC)) == ["Login troubleshooting"]


def test_without_synonyms_sign_in_finds_nothing(db):
    Synonym.objects.all().delete()
    search.forget_synonyms()
    publish("Login troubleshooting", body="Clear cookies.")
    assert titles(search.search("sign in", audiences=PUBLIC)) == []


def test_audiences_are_filtered_inside_the_query(db):
    publish("VPN for agents", body="Internal runbook for the vpn.", audience=Audience.INTERNAL)
    publish("VPN setup for customers", body="Install the vpn client.",
            audience=Audience.CUSTOMERS)
    publish("VPN overview", body="What the vpn does.", audience=Audience.PUBLIC)
    assert titles(search.search("vpn", audiences=PUBLIC)) == ["VPN overview"]
    assert set(titles(search.search("vpn", audiences=(Audience.PUBLIC, Audience.CUSTOMERS)))) \
        == {"VPN overview", "VPN setup for customers"}
    assert len(search.search("vpn", audiences=EVERYONE)) == 3
    # Not even the typo fallback reveals an internal article.
    assert titles(search.search("vpm runbok", audiences=PUBLIC)) == []


def test_drafts_and_archived_articles_are_not_found(db):
    services.create_article(title="Quarterly roadmap draft", author=None, body="roadmap")
    gone = publish("Old roadmap", body="roadmap")
    services.archive(gone, actor=None)
    assert titles(search.search("roadmap", audiences=EVERYONE)) == []


def test_snippets_are_escaped_then_highlighted(db):
    publish("Script errors", body="The page shows <script>alert(1)</script> when the "
            "widget fails to load.")
    hit = search.search("widget", audiences=PUBLIC).hits[0]
    assert "<script" not in hit.snippet
    assert "<mark>widget</mark>" in hit.snippet


def test_highlighting_escapes_before_marking():
    marked = search.safe_highlight(f"<b onclick=x>bold</b> {search.START}hit{search.STOP}")
    assert marked == "&lt;b onclick=x&gt;bold&lt;/b&gt; <mark>hit</mark>"


def test_suggestions_match_any_word_of_subject_and_description(articles):
    result = search.suggest("Cannot export my invoices", "The CSV button does nothing",
                            audiences=PUBLIC)
    assert titles(result)[0] == "Export invoices to CSV"


def test_edited_article_is_found_by_its_new_words_once_published(db, writer):
    article = publish("Change plan", body="Go to billing.")
    services.save_draft(article, author=writer, title="Change plan", summary="",
                        body="Go to subscription settings.")
    assert titles(search.search("subscription", audiences=PUBLIC)) == []
    services.publish(article, actor=writer)
    assert titles(search.search("subscription", audiences=PUBLIC)) == ["Change plan"]


def test_snippet_marks_inflections_around_the_first_match():
    body = "Intro text. " * 30 + "Download your invoice as PDF; invoices older than a year move."
    snippet = search.make_snippet(body, ["invoices"])
    assert snippet.startswith("… ")
    assert "<mark>invoice</mark> as PDF; <mark>invoices</mark>" in snippet
    assert search.make_snippet("Reset or restore", ["reset"]) == "<mark>Reset</mark> or restore"

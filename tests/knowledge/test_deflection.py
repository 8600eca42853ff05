"""Deflection: visits followed from search to ticket, the attribution window, votes,
search analytics, and the dashboard figures on a hand-computed data set."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import override_settings

from knowledge import selectors
from knowledge.models import (
    ArticleVote,
    Audience,
    SearchLog,
    SearchSource,
    Visit,
)
from tests.factories import make_ticket
from tickets.models import Category

from .conftest import publish

T0 = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)


def _outcome(visit: Visit, now: datetime) -> dict:
    d = selectors.dashboard(start=now - timedelta(days=30), end=now + timedelta(days=1), now=now)
    return {"deflected": d.deflected, "ticket": d.ticket_visits, "pending": d.pending}


def _read_article(client, article, q: str = "export"):
    client.get("/help/search/", {"q": q})
    log = SearchLog.objects.latest("id")
    client.get(article.get_absolute_url(), {"s": log.pk})
    return Visit.objects.latest("id")


@pytest.fixture
def article(db):
    return publish("Export invoices to CSV", body="Billing > Invoices > Export.")


def test_ticket_within_the_window_is_attributed_to_the_visit(article, client, customer_a,
                                                             django_capture_on_commit_callbacks):
    client.force_login(customer_a)
    with time_machine.travel(T0, tick=False):
        visit = _read_article(client, article)
    with time_machine.travel(T0 + timedelta(hours=23), tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket(customer_a, subject="Export still fails")
    visit.refresh_from_db()
    assert visit.ticket == ticket
    assert SearchLog.objects.get(visit=visit).ticket_followed
    assert _outcome(visit, T0 + timedelta(days=3)) == {"deflected": 0, "ticket": 1, "pending": 0}


def test_ticket_after_the_window_leaves_the_visit_deflected(article, client, customer_a,
                                                            django_capture_on_commit_callbacks):
    client.force_login(customer_a)
    with time_machine.travel(T0, tick=False):
        visit = _read_article(client, article)
    # Before the window closes the visit is pending, neither deflected nor failed.
    assert _outcome(visit, T0 + timedelta(hours=12)) == {"deflected": 0, "ticket": 0,
                                                         "pending": 1}
    with time_machine.travel(T0 + timedelta(hours=25), tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        make_ticket(customer_a, subject="Something else")
    visit.refresh_from_db()
    assert visit.ticket is None
    assert _outcome(visit, T0 + timedelta(days=3)) == {"deflected": 1, "ticket": 0, "pending": 0}


@override_settings(KNOWLEDGE_ATTRIBUTION_WINDOW_HOURS=48)
def test_the_window_is_configurable(article, client, customer_a,
                                    django_capture_on_commit_callbacks):
    client.force_login(customer_a)
    with time_machine.travel(T0, tick=False):
        visit = _read_article(client, article)
    with time_machine.travel(T0 + timedelta(hours=25), tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket(customer_a, subject="Export still fails")
    visit.refresh_from_db()
    assert visit.ticket == ticket


def test_anonymous_visit_is_attributed_once_the_reader_signs_in(
        article, client, customer_a, django_capture_on_commit_callbacks):
    with time_machine.travel(T0, tick=False):
        visit = _read_article(client, article)  # anonymous, cookie only
        assert visit.user is None
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        client.force_login(customer_a)
        # The ticket form's suggestions call the help center with the visit cookie.
        client.get("/help/suggest/", {"subject": "export csv"})
        with django_capture_on_commit_callbacks(execute=True):
            ticket = make_ticket(customer_a, subject="Export fails")
    visit.refresh_from_db()
    assert visit.user == customer_a and visit.ticket == ticket


def test_this_solved_my_problem_deflects_even_before_the_window_ends(article, client):
    with time_machine.travel(T0, tick=False):
        visit = _read_article(client, article)
        client.post("/help/solved/", {"article": article.slug}, HTTP_HX_REQUEST="true")
    assert _outcome(visit, T0 + timedelta(hours=1)) == {"deflected": 1, "ticket": 0,
                                                        "pending": 0}


def test_votes_one_per_visit_and_changeable(article, client):
    client.get(article.get_absolute_url())
    client.post(f"/help/articles/{article.slug}/vote/", {"helpful": "1"}, HTTP_HX_REQUEST="true")
    r = client.post(f"/help/articles/{article.slug}/vote/",
                    {"helpful": "0", "reason": "outdated", "comment": "Menu moved"},
                    HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and "Thanks for your feedback" in r.content.decode()
    article.refresh_from_db()
    assert (article.helpful_count, article.unhelpful_count) == (0, 1)
    vote = ArticleVote.objects.get()
    assert (vote.helpful, vote.reason, vote.comment) == (False, "outdated", "Menu moved")
    client.cookies.clear()  # another reader
    client.post(f"/help/articles/{article.slug}/vote/", {"helpful": "1"})
    article.refresh_from_db()
    assert (article.helpful_count, article.unhelpful_count, article.helpfulness) == (1, 1, 0.5)


def test_typing_collapses_and_rephrasing_counts_as_refinement(article, client):
    with time_machine.travel(T0, tick=False) as traveller:
        for partial in ("exp", "expor", "export csv"):
            client.get("/help/search/", {"q": partial}, HTTP_HX_REQUEST="true")
            traveller.shift(timedelta(seconds=2))
        assert list(SearchLog.objects.values_list("query", flat=True)) == ["export csv"]
        traveller.shift(timedelta(seconds=40))
        client.get("/help/search/", {"q": "download receipts"})
        traveller.shift(timedelta(seconds=40))
        client.get("/help/search/", {"q": "zzzz qqqq"})
        traveller.shift(timedelta(seconds=40))
        client.get("/help/search/", {"q": "export invoices"})
        log = SearchLog.objects.latest("id")
        client.get(article.get_absolute_url(), {"s": log.pk})
        start, end = T0 - timedelta(days=1), T0 + timedelta(days=1)
        assert selectors.refinements(start=start, end=end) == [
            {"query": "download receipts", "refined_to": "zzzz qqqq", "n": 1},
            {"query": "export csv", "refined_to": "download receipts", "n": 1},
            {"query": "zzzz qqqq", "refined_to": "export invoices", "n": 1},
        ]
        assert selectors.zero_result_searches(start=start, end=end) == [
            {"query": "download receipts", "n": 1, "still_nothing": True},
            {"query": "zzzz qqqq", "n": 1, "still_nothing": True}]
        assert selectors.no_click_searches(start=start, end=end) == [
            {"query": "export csv", "n": 1}]
        top = selectors.top_searches(start=start, end=end)
        assert {r["query"]: r["clicked"] for r in top} == {
            "export csv": 0, "download receipts": 0, "zzzz qqqq": 0, "export invoices": 1}


NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def _visit(**kw) -> Visit:
    kw.setdefault("started_at", NOW - timedelta(days=5))
    kw.setdefault("last_seen_at", kw["started_at"])
    return Visit.objects.create(**kw)


def _search(n: int, *, clicked: bool = False, results: int = 3, days_ago: int = 2,
            source: str = SearchSource.HELP_CENTER, article=None) -> None:
    for _ in range(n):
        SearchLog.objects.create(
            query="q", created_at=NOW - timedelta(days=days_ago), source=source,
            result_count=results, clicked_article=article if clicked else None,
            clicked_at=NOW - timedelta(days=days_ago) if clicked else None)


def test_dashboard_figures_on_a_known_data_set(db, customer_a, manager, client):
    """Hand-computed: 2 deflected of 4 decided visits = 50 %, 2 × $15 = $30 saved,
    4 clicked of 10 searches = 40 %, 3 zero-result = 30 %, 3 of 4 votes helpful = 75 %,
    3 of 4 published articles fresh = 75 %, 2 of 3 recent ticket categories covered."""
    login, billing, api, old = (Category.objects.create(name=f"KB {n}", slug=f"kb-{n.lower()}")
                                for n in ("Login", "Billing", "API", "Old"))
    with time_machine.travel(NOW - timedelta(days=10), tick=False):
        a_login = publish("Sign-in help", category=login)
        publish("Billing runbook", category=billing, audience=Audience.INTERNAL)
        publish("API limits", category=api, audience=Audience.CUSTOMERS)
        stale = publish("Legacy export")
    stale.last_reviewed_on = (NOW - timedelta(days=400)).date()
    stale.save()
    # Visits in the period.
    _visit(solved_at=NOW - timedelta(days=5), article_views=1)                      # deflected
    _visit(article_views=2, last_seen_at=NOW - timedelta(days=3))                   # deflected
    _visit(article_views=1, ticket_filed_at=NOW - timedelta(days=4))                # ticket
    _visit(article_views=0, last_seen_at=NOW - timedelta(days=2))                   # no answer
    _visit(article_views=1, started_at=NOW - timedelta(hours=2))                    # pending
    _visit(article_views=1, started_at=NOW - timedelta(days=40))                    # outside
    # Searches: 10 customer searches in the period, 4 clicked, 3 zero-result.
    _search(4, clicked=True, article=a_login)
    _search(3, results=0)
    _search(3)
    _search(1, source=SearchSource.AGENT)     # agents' searches do not count
    _search(1, days_ago=45)                   # outside the period
    # Votes: 3 yes, 1 no.
    voter = _visit(article_views=1, started_at=NOW - timedelta(days=40))
    for helpful, other in ((True, None), (True, None), (True, None), (False, None)):
        v = _visit(started_at=NOW - timedelta(days=60))
        ArticleVote.objects.create(article=a_login, visit=v, helpful=helpful,
                                   created_at=NOW - timedelta(days=1))
    del voter
    # Tickets: Login 2, Billing 10 (this week), API 3 in the last 30 days; Old 40 days ago.
    with time_machine.travel(NOW - timedelta(days=40), tick=False):
        make_ticket(customer_a, category=old)
    with time_machine.travel(NOW - timedelta(days=20), tick=False):
        for cat, n in ((login, 2), (api, 3)):
            for _ in range(n):
                make_ticket(customer_a, category=cat)
    with time_machine.travel(NOW - timedelta(days=2), tick=False):
        for _ in range(10):
            make_ticket(customer_a, category=billing)

    d = selectors.dashboard(start=NOW - timedelta(days=30), end=NOW, now=NOW)
    assert (d.visits, d.deflected, d.ticket_visits, d.no_answer, d.pending) == (5, 2, 1, 1, 1)
    assert d.deflection_rate == 0.5
    assert d.cost_saved == 30.0
    assert (d.searches, d.searches_clicked, d.zero_result) == (10, 4, 3)
    assert d.search_success == 0.4 and d.zero_result_rate == 0.3
    assert (d.votes, d.helpful_votes, d.helpfulness) == (4, 3, 0.75)
    assert (d.published, d.fresh, d.freshness) == (4, 3, 0.75)
    assert (d.categories_seen, d.categories_covered) == (3, 2)
    assert d.coverage == pytest.approx(2 / 3)
    assert d.write_next == [(billing, 10)]

    with time_machine.travel(NOW, tick=False):
        client.force_login(manager)
        page = client.get("/help/manage/dashboard/", {"days": 30}).content.decode()
    assert 'id="fig-deflection">50 %' in page
    assert "$30" in page
    assert "attribution window (24 h)" in page
    assert "KB Billing: 10 tickets" in page

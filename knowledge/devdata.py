"""The help center's generated history (see helpdesk/generators.py).

- Before the tickets: 300 articles or more (one per 200 tickets, up to 5,000), in
  sections per ticket category, each with one to four versions (the last one published,
  the earlier ones superseded), a few drafts and archived ones, indexed for search.
- With every chunk of tickets: the help-center visits that came before a ticket (about
  two in five portal tickets and one in ten e-mail ones): searches, a share of them with
  no result, article views and "not helpful" votes, and the ticket they filed. Beside
  them, visits that ended without a ticket: the customer found the answer (a deflection,
  with its helpful vote) or gave up.
- At the end: each article's view and vote counters.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TextIO

from django.db import connections
from django.utils.text import slugify

from helpdesk import generators
from helpdesk.generators import Batch, Run
from tickets.models import Category

from . import search
from .demo import seed_demo
from .models import (
    Article,
    ArticleStatus,
    ArticleVersion,
    ArticleView,
    ArticleVote,
    Audience,
    SearchLog,
    Section,
    VersionState,
    Visit,
)

DAY = 86400.0
_dt = datetime.fromtimestamp

# category slug -> (section name, topics that articles and searches are about)
TOPICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "login": ("Sign-in and SSO", (
        "SAML single sign-on", "Okta SSO", "Azure AD sign-in", "two-factor authentication",
        "password reset", "session timeouts", "SCIM provisioning", "locked accounts")),
    "api-errors": ("API", (
        "API rate limits", "API tokens", "503 errors", "pagination", "webhook signatures",
        "idempotency keys", "API versioning", "request timeouts")),
    "billing": ("Billing", (
        "invoices", "refunds", "VAT numbers", "changing plans", "failed payments",
        "credit notes", "seat counts", "annual billing")),
    "integrations": ("Integrations", (
        "Salesforce sync", "Slack notifications", "Jira integration", "Zapier", "HubSpot",
        "Shopify orders", "Microsoft Teams", "Google Sheets export")),
    "performance": ("Performance", (
        "slow dashboards", "report timeouts", "large exports", "browser cache",
        "search speed", "mobile app lag")),
    "data": ("Data and exports", (
        "CSV export", "data import", "duplicate records", "data retention",
        "field mapping", "bulk delete", "audit log export")),
    "security": ("Security", (
        "IP allowlists", "audit logs", "GDPR requests", "data encryption",
        "security questionnaire", "suspicious logins")),
    "feature-request": ("Roadmap", (
        "feature requests", "beta programme", "product roadmap", "dark mode")),
    "how-to": ("Getting started", (
        "inviting users", "user roles", "custom fields", "notifications",
        "keyboard shortcuts", "workspace settings", "mobile app", "reports")),
}
FORMS = (
    ("How to set up {t}", "howto"), ("Troubleshooting {t}", "troubleshooting"),
    ("{T}: frequently asked questions", "faq"), ("Understanding {t}", "blank"),
    ("Fix errors with {t}", "troubleshooting"), ("{T} for administrators", "howto"),
)
ZERO_RESULT_QUERIES = (
    "cancel order 4471", "refund in yen", "gantt chart", "offline mode windows xp",
    "api v0", "export to lotus notes", "sso with kerberos ticket", "merge two workspaces",
    "invoice from 2019", "change company country", "blockchain", "teh invoce",
)
REASONS = ("not_relevant", "unclear", "outdated", "did_not_work")
ARTICLE_COLUMNS = (
    "id", "section_id", "slug", "title", "summary", "body", "tags", "template",
    "category_id", "audience", "status", "owner_id", "last_reviewed_on",
    "review_interval_days", "review_due_on", "created_at", "updated_at", "published_at",
    "view_count", "helpful_count", "unhelpful_count",
)
VERSION_COLUMNS = ("article_id", "number", "title", "summary", "body", "state", "author_id",
                   "note", "created_at", "published_at")
VISIT_COLUMNS = ("id", "key", "user_id", "started_at", "last_seen_at", "first_query",
                 "article_views", "solved_at", "solved_article_id", "ticket_id",
                 "ticket_filed_at")
SEARCH_COLUMNS = ("id", "query", "created_at", "source", "visit_id", "result_count",
                  "clicked_article_id", "clicked_at", "refined_to", "ticket_followed")
VIEW_COLUMNS = ("article_id", "visit_id", "search_id", "created_at")
VOTE_COLUMNS = ("article_id", "visit_id", "user_id", "helpful", "reason", "comment",
                "created_at")


@dataclass
class _State:
    # category slug -> [(article id, topic)] of published customer-visible articles
    articles: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    first_id: int = 0
    count: int = 0


def _body(rng, title: str, topic: str) -> str:
    steps = "\n".join(f"{i}. {rng.choice(STEP_TEXT).format(t=topic)}"
                      for i in range(1, rng.randint(3, 6)))
    return (f"## Overview\n\n{title} explains what to check and what to change.\n\n"
            f"## Steps\n\n{steps}\n\n## Still stuck?\n\nContact support with the time "
            "it happened and a screenshot.")


STEP_TEXT = (
    "Open **Settings** and find the {t} section.", "Check that your plan includes {t}.",
    "Ask an administrator to review the {t} configuration.", "Save and try again.",
    "Compare the values with the ones your provider shows.", "Sign out and back in.",
    "Clear the browser cache and reload the page.", "Copy the error message exactly.",
)


def prepare(run: Run) -> None:
    rng = run.rng("knowledge")
    using = run.using
    state = run.state["knowledge"] = _State()
    categories = dict(_category_ids(using))
    sections = {}
    for position, (slug, (name, _)) in enumerate(TOPICS.items()):
        section, _ = Section.objects.using(using).get_or_create(
            slug=f"help-{slug}", defaults={"name": name, "position": 200 + position,
                                           "description": f"Articles about {name.lower()}."})
        sections[slug] = section.pk
    n = max(300, min(5000, run.tickets // 200))
    taken = set(Article.objects.using(using).values_list("slug", flat=True))
    first = state.first_id = run.next_ids(Article, n)
    owners = [a for agents in run.team_agents.values() for a, _ in agents] or [None]
    rows, versions = [], []
    slugs = list(TOPICS)
    for i in range(n):
        aid = first + i
        cat = slugs[i % len(slugs)]
        topic = rng.choice(TOPICS[cat][1])
        form, template = rng.choice(FORMS)
        title = form.format(t=topic, T=topic[:1].upper() + topic[1:])
        slug = slugify(title)[:180]
        if slug in taken:
            slug = f"{slug}-{aid}"
        taken.add(slug)
        created = run.start - rng.random() * 400 * DAY
        roll = rng.random()
        status = (ArticleStatus.DRAFT if roll < 0.06 else ArticleStatus.ARCHIVED
                  if roll < 0.12 else ArticleStatus.PUBLISHED)
        roll = rng.random()
        audience = (Audience.INTERNAL if roll < 0.08 else Audience.CUSTOMERS
                    if roll < 0.2 else Audience.PUBLIC)
        n_versions = rng.choice((1, 1, 2, 2, 3, 4))
        body = _body(rng, title, topic)
        # The quick answer is plain text (shown as is in lists): the step without its
        # Markdown emphasis.
        summary = rng.choice(STEP_TEXT).format(t=topic).replace("**", "")
        owner = rng.choice(owners)
        t = created
        published_at = None
        for number in range(1, n_versions + 1):
            last = number == n_versions
            if last and status == ArticleStatus.DRAFT:
                state_v, published = VersionState.DRAFT, None
            elif last:
                state_v, published = VersionState.PUBLISHED, t + 3600
            else:
                state_v, published = VersionState.SUPERSEDED, t + 3600
            published_at = published or published_at
            versions.append((aid, number, title, summary, body, str(state_v), owner,
                             "" if number == 1 else "Updated steps", _dt(t, UTC),
                             _dt(published, UTC) if published else None))
            t = min(run.now - 3600, t + rng.random() * 120 * DAY)
        reviewed = date.fromtimestamp(min(run.now, t + rng.random() * 60 * DAY))
        rows.append((
            aid, sections[cat], slug, title, summary, body,
            ",".join(topic.lower().split()[:3]), template, categories.get(cat),
            str(audience), str(status), owner, reviewed, 180, reviewed + timedelta(days=180),
            _dt(created, UTC), _dt(t, UTC),
            _dt(published_at, UTC) if published_at and status != ArticleStatus.DRAFT
            else None, 0, 0, 0))
        if status == ArticleStatus.PUBLISHED and audience != Audience.INTERNAL:
            state.articles.setdefault(cat, []).append((aid, topic))
    run.write(Article, ARTICLE_COLUMNS, rows)
    run.write(ArticleVersion, VERSION_COLUMNS, versions)
    state.count = n
    search.index_article(None)  # rebuilt from the rows, as after an import
    run.log(f"  knowledge: {n:,} articles, {len(versions):,} versions, indexed")


def _category_ids(using: str) -> list[tuple[str, int]]:
    return list(Category.objects.using(using).values_list("slug", "pk"))


class _Rows:
    def __init__(self, run: Run, n_visits: int) -> None:
        self.visit_id = run.next_ids(Visit, n_visits)
        self.search_id = run.next_ids(SearchLog, 4 * n_visits)
        self.visits: list[tuple] = []
        self.searches: list[tuple] = []
        self.views: list[tuple] = []
        self.votes: list[tuple] = []


def _visit(rng, rows: _Rows, state: _State, *, cat: str, user: int, start: float,
           end_ticket: tuple[int, float] | None, solved: bool) -> None:
    """One visit: searches (the last one leads to the outcome), views and votes."""
    pool = state.articles.get(cat) or [a for v in state.articles.values() for a in v]
    if not pool:
        return
    vid = rows.visit_id
    rows.visit_id += 1
    t = start
    n_searches = rng.choice((1, 1, 1, 2, 2, 3))
    first_query = ""
    views = 0
    solved_article = None
    local: list[list] = []
    for k in range(n_searches):
        if rng.random() < 0.12:
            query, results = rng.choice(ZERO_RESULT_QUERIES), 0
        else:
            article = rng.choice(pool)
            words = article[1].lower().split()
            query = " ".join(words[: rng.randint(1, len(words))])
            results = rng.randint(1, 12)
        first_query = first_query or query
        sid = rows.search_id
        rows.search_id += 1
        clicked = clicked_at = None
        if results and rng.random() < 0.7:
            clicked = rng.choice(pool)[0]
            clicked_at = t + 5 + 20 * rng.random()
            rows.views.append((clicked, vid, sid, _dt(clicked_at, UTC)))
            views += 1
            solved_article = clicked
        last = k == n_searches - 1
        if local and local[-1][6] is None:
            local[-1][8] = query[:255]  # refined: no click, then this query
        local.append([sid, query[:255], _dt(t, UTC), "help", vid, results, clicked,
                      _dt(clicked_at, UTC) if clicked_at else None, "",
                      bool(last and end_ticket)])
        t += 30 + 120 * rng.random()
    rows.searches.extend(tuple(row) for row in local)
    solved_at = None
    if solved and solved_article is not None:
        solved_at = t + 60
        rows.votes.append((solved_article, vid, user, True, "", "", _dt(solved_at, UTC)))
    elif solved_article is not None and rng.random() < 0.35:
        rows.votes.append((solved_article, vid, user, False, rng.choice(REASONS), "",
                           _dt(t, UTC)))
    rows.visits.append((
        vid, _key(rng, vid), user, _dt(start, UTC),
        _dt(max(t, end_ticket[1]) if end_ticket else t, UTC), first_query[:255], views,
        _dt(solved_at, UTC) if solved_at else None,
        solved_article if solved_at else None, end_ticket[0] if end_ticket else None,
        _dt(end_ticket[1], UTC) if end_ticket else None))


def _key(rng, visit_id: int) -> uuid.UUID:
    """A random-looking key that cannot clash: its low 32 bits are the visit's id."""
    return uuid.UUID(int=(rng.getrandbits(96) << 32) | (visit_id & 0xFFFFFFFF), version=4)


def tickets(run: Run, batch: Batch) -> None:
    state: _State = run.state["knowledge"]
    rng = run.rng("knowledge")
    rows = _Rows(run, 2 * len(batch.tickets))
    for h in batch.tickets:
        share = 0.4 if h.channel == "web" else 0.1 if h.channel == "email" else 0.0
        if share and rng.random() < share:  # searched first, then filed the ticket
            start = h.created - 60 - 900 * rng.random()
            _visit(rng, rows, state, cat=h.category, user=h.requester_id, start=start,
                   end_ticket=(h.id, h.created), solved=False)
        if rng.random() < 0.55:  # another visit of this customer that filed nothing
            start = h.created + (run.now - h.created) * rng.random()
            _visit(rng, rows, state, cat=h.category, user=h.requester_id, start=start,
                   end_ticket=None, solved=rng.random() < 0.6)
    batch.add(Visit, VISIT_COLUMNS, rows.visits)
    batch.add(SearchLog, SEARCH_COLUMNS, rows.searches)
    batch.add(ArticleView, VIEW_COLUMNS, rows.views)
    batch.add(ArticleVote, VOTE_COLUMNS, rows.votes)


def finish(run: Run) -> None:
    state: _State = run.state["knowledge"]
    qn = connections[run.using].ops.quote_name
    article, view, vote = (qn(m._meta.db_table) for m in (Article, ArticleView, ArticleVote))
    with connections[run.using].cursor() as cursor:
        # Table names from model metadata; the id range is a parameter.
        cursor.execute(
            f"UPDATE {article} SET "  # noqa: S608
            f"view_count = (SELECT COUNT(*) FROM {view} v WHERE v.article_id = {article}.id),"
            f" helpful_count = (SELECT COUNT(*) FROM {vote} v"
            f"  WHERE v.article_id = {article}.id AND v.helpful),"
            f" unhelpful_count = (SELECT COUNT(*) FROM {vote} v"
            f"  WHERE v.article_id = {article}.id AND NOT v.helpful)"
            " WHERE id >= %s AND id < %s", [state.first_id, state.first_id + state.count])


def demo(stdout: TextIO) -> None:
    seed_demo(stdout)


generators.register(generators.Generator("knowledge", order=5, prepare=prepare,
                                         tickets=tickets, finish=finish, demo=demo))

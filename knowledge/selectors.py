"""Reads shared by the knowledge views, the API, the tasks and the dashboard."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from helpdesk.models import User
from tickets.models import Category, Ticket

from . import conf
from .deflection import rate
from .models import (
    Article,
    ArticleStatus,
    ArticleVote,
    Audience,
    SearchLog,
    SearchSource,
    Visit,
    default_language,
)
from .search import audiences_for, reader_language, search

CUSTOMER_SOURCES = (SearchSource.HELP_CENTER, SearchSource.SUGGESTION, SearchSource.API)
WRITE_NEXT_THRESHOLD = 10  # tickets in a week on a category with no article


def visible_articles(user) -> QuerySet[Article]:
    """Published articles the user may read (the audience rule, in one place)."""
    return Article.objects.filter(status=ArticleStatus.PUBLISHED,
                                  audience__in=audiences_for(user))


def for_reader(articles: QuerySet[Article], language: str | None = None) -> QuerySet[Article]:
    """The articles a reader of `language` (default: the active one) is shown in lists: those
    in their language, and those in the default language that have no published
    translation into it."""
    language = reader_language(language)
    default = default_language()
    if language == default:
        return articles.filter(language=default)
    translated = Article.objects.filter(language=language, status=ArticleStatus.PUBLISHED,
                                        translation_of__isnull=False
                                        ).values("translation_of_id")
    return articles.filter(Q(language=language)
                           | (Q(language=default) & ~Q(pk__in=translated)))


def translations_of(article: Article, user) -> list[Article]:
    """The other published languages of an article the user may read (original included),
    in the order of settings.LANGUAGES."""
    original = article.translation_of_id or article.pk
    family = list(visible_articles(user).filter(Q(pk=original) | Q(translation_of_id=original))
                  .exclude(pk=article.pk).only("id", "slug", "title", "language"))
    order = [code for code, _name in settings.LANGUAGES]
    return sorted(family, key=lambda a: order.index(a.language) if a.language in order else 99)


def get_article_for(user, slug: str) -> Article:
    """A published article the user may read, else 404 (never 403: no existence leak)."""
    article = (visible_articles(user).select_related("section", "section__parent", "owner")
               .filter(slug=slug).first())
    if article is None:
        raise Http404("No such article")
    return article


def related_articles(article: Article, user, *, limit: int = 5) -> list[Article]:
    """Hand-picked related articles first, then others of the same section."""
    visible = visible_articles(user).exclude(pk=article.pk).only("id", "slug", "title")
    picked = list(visible.filter(related_from=article)[:limit])
    if len(picked) < limit and article.section_id:
        picked += list(visible.filter(section_id=article.section_id)
                       .exclude(pk__in=[a.pk for a in picked])
                       .order_by("-view_count", "title")[:limit - len(picked)])
    return picked


def overdue_articles(*, today: date | None = None, owner: User | None = None
                     ) -> QuerySet[Article]:
    """Published articles past their review date (or never reviewed), oldest first."""
    today = today or timezone.localdate()
    qs = Article.objects.filter(status=ArticleStatus.PUBLISHED).filter(
        Q(review_due_on__lt=today) | Q(review_due_on__isnull=True))
    if owner is not None:
        qs = qs.filter(owner=owner)
    return qs.select_related("owner").order_by("review_due_on", "id")


def overdue_by_owner(*, today: date | None = None) -> dict[User, list[Article]]:
    grouped: dict[User, list[Article]] = defaultdict(list)
    for article in overdue_articles(today=today).filter(owner__isnull=False,
                                                        owner__is_active=True):
        grouped[article.owner].append(article)
    return dict(grouped)


# --- dashboard ------------------------------------------------------------------------

@dataclass(frozen=True)
class Dashboard:
    start: datetime
    end: datetime
    window_hours: float
    cost_per_ticket: float
    currency: str
    visits: int
    deflected: int
    ticket_visits: int
    no_answer: int
    pending: int
    deflection_rate: float | None
    cost_saved: float
    searches: int
    searches_clicked: int
    search_success: float | None
    zero_result: int
    zero_result_rate: float | None
    votes: int
    helpful_votes: int
    helpfulness: float | None
    published: int
    fresh: int
    freshness: float | None
    categories_seen: int
    categories_covered: int
    coverage: float | None
    write_next: list[tuple[Category, int]]


def _covered_category_ids() -> set[int]:
    """Categories with a published article a customer can read."""
    return set(Article.objects.filter(
        status=ArticleStatus.PUBLISHED, category__isnull=False,
        audience__in=[Audience.PUBLIC, Audience.CUSTOMERS],
    ).values_list("category_id", flat=True).distinct())


def dashboard(*, start: datetime, end: datetime, now: datetime | None = None) -> Dashboard:
    """Every figure of the deflection dashboard for visits/searches/votes in [start, end)."""
    now = now or timezone.now()
    window = conf.attribution_window()
    closed = now - window
    visits = Visit.objects.filter(started_at__gte=start, started_at__lt=end).aggregate(
        total=Count("id"),
        solved=Count("id", filter=Q(solved_at__isnull=False)),
        ticket=Count("id", filter=Q(solved_at__isnull=True, ticket_filed_at__isnull=False)),
        viewed_closed=Count("id", filter=Q(solved_at__isnull=True, ticket_filed_at__isnull=True,
                                           article_views__gt=0, last_seen_at__lte=closed)),
        no_answer=Count("id", filter=Q(solved_at__isnull=True, ticket_filed_at__isnull=True,
                                       article_views=0, last_seen_at__lte=closed)),
    )
    deflected = visits["solved"] + visits["viewed_closed"]
    decided = deflected + visits["ticket"] + visits["no_answer"]
    searches = SearchLog.objects.filter(created_at__gte=start, created_at__lt=end,
                                        source__in=CUSTOMER_SOURCES).aggregate(
        total=Count("id"),
        clicked=Count("id", filter=Q(clicked_at__isnull=False)),
        zero=Count("id", filter=Q(result_count=0)),
    )
    votes = ArticleVote.objects.filter(created_at__gte=start, created_at__lt=end).aggregate(
        total=Count("id"), helpful=Count("id", filter=Q(helpful=True)))
    today = timezone.localdate(now)
    published = Article.objects.filter(status=ArticleStatus.PUBLISHED).aggregate(
        total=Count("id"), fresh=Count("id", filter=Q(review_due_on__gte=today)))
    # Coverage: ticket categories of the last 30 days with a published customer article.
    recent = set(Ticket.objects.filter(created_at__gte=now - timedelta(days=30),
                                       category__isnull=False)
                 .values_list("category_id", flat=True).distinct())
    covered_ids = _covered_category_ids()
    covered = recent & covered_ids
    # "Write this next": 10+ tickets in the last 7 days in a category with no article.
    hot = (Ticket.objects.filter(created_at__gte=now - timedelta(days=7),
                                 category__isnull=False)
           .exclude(category_id__in=covered_ids)
           .values("category_id").annotate(n=Count("id"))
           .filter(n__gte=WRITE_NEXT_THRESHOLD).order_by("-n"))
    names = Category.objects.in_bulk([row["category_id"] for row in hot])
    write_next = [(names[row["category_id"]], row["n"]) for row in hot]
    cost = conf.cost_per_ticket()
    return Dashboard(
        start=start, end=end, window_hours=window.total_seconds() / 3600,
        cost_per_ticket=cost, currency=conf.currency(), visits=visits["total"],
        deflected=deflected, ticket_visits=visits["ticket"], no_answer=visits["no_answer"],
        pending=visits["total"] - decided, deflection_rate=rate(deflected, decided),
        cost_saved=deflected * cost,
        searches=searches["total"], searches_clicked=searches["clicked"],
        search_success=rate(searches["clicked"], searches["total"]),
        zero_result=searches["zero"], zero_result_rate=rate(searches["zero"], searches["total"]),
        votes=votes["total"], helpful_votes=votes["helpful"],
        helpfulness=rate(votes["helpful"], votes["total"]),
        published=published["total"], fresh=published["fresh"],
        freshness=rate(published["fresh"], published["total"]),
        categories_seen=len(recent), categories_covered=len(covered),
        coverage=rate(len(covered), len(recent)), write_next=write_next,
    )


def article_helpfulness(*, limit: int = 50) -> QuerySet[Article]:
    """Published articles with votes, least helpful first (what to fix)."""
    return (Article.objects.filter(status=ArticleStatus.PUBLISHED)
            .annotate(votes_total=F("helpful_count") + F("unhelpful_count"))
            .filter(votes_total__gt=0)
            .only("id", "slug", "title", "helpful_count", "unhelpful_count", "view_count")
            .order_by("helpful_count", "-unhelpful_count")[:limit])


# --- search analytics -----------------------------------------------------------------

def _searches(start: datetime, end: datetime) -> QuerySet[SearchLog]:
    return SearchLog.objects.filter(created_at__gte=start, created_at__lt=end,
                                    source__in=CUSTOMER_SOURCES)


def top_searches(*, start: datetime, end: datetime, limit: int = 20) -> list[dict]:
    return list(_searches(start, end).values("query").annotate(
        n=Count("id"), clicked=Count("id", filter=Q(clicked_at__isnull=False)),
        zero=Count("id", filter=Q(result_count=0)),
    ).order_by("-n", "query")[:limit])


@dataclass(frozen=True)
class ZeroResultRate:
    zero: int
    searches: int
    rate: float | None


def zero_result_rate(*, start: datetime, end: datetime) -> ZeroResultRate:
    counts = _searches(start, end).aggregate(total=Count("id"),
                                             zero=Count("id", filter=Q(result_count=0)))
    return ZeroResultRate(counts["zero"], counts["total"], rate(counts["zero"], counts["total"]))


def zero_result_searches(*, start: datetime, end: datetime, limit: int = 20) -> list[dict]:
    """The most frequent queries that found nothing, each searched again now as a signed-in
    customer: `still_nothing` says writers still have an article to add (or a synonym)."""
    rows = list(_searches(start, end).filter(result_count=0).values("query")
                .annotate(n=Count("id")).order_by("-n", "query")[:limit])
    customer = (Audience.PUBLIC.value, Audience.CUSTOMERS.value)
    for row in rows:
        row["still_nothing"] = not search(row["query"], audiences=customer, limit=1,
                                          prefix=False).hits
    return rows


def no_click_searches(*, start: datetime, end: datetime, limit: int = 20) -> list[dict]:
    """Searches that found articles but none was opened: titles or summaries miss."""
    return list(_searches(start, end).filter(result_count__gt=0, clicked_at__isnull=True)
                .values("query").annotate(n=Count("id")).order_by("-n", "query")[:limit])


def refinements(*, start: datetime, end: datetime, limit: int = 20) -> list[dict]:
    """Queries readers gave up on and rephrased, with what they tried next."""
    return list(_searches(start, end).exclude(refined_to="")
                .values("query", "refined_to").annotate(n=Count("id"))
                .order_by("-n", "query", "refined_to")[:limit])

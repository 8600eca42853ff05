"""Every write of the knowledge app: articles and their versions, help-center visits,
searches, views, votes, flags and ticket attribution. Each runs in a transaction."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from helpdesk import formats as display
from helpdesk.models import User
from helpdesk.notifications import in_language_of, notify

from . import conf, search
from .article_templates import starting_content
from .models import (
    Article,
    ArticleEvent,
    ArticleEventKind,
    ArticleFlag,
    ArticleStatus,
    ArticleTemplate,
    ArticleVersion,
    ArticleView,
    ArticleVote,
    Audience,
    FlagKind,
    SearchLog,
    SearchSource,
    Section,
    VersionState,
    Visit,
    VoteReason,
    default_language,
)
from .query import normalise

OPEN_STATES = (VersionState.DRAFT, VersionState.REVIEW)
# Keystrokes of one query typed within this time collapse into one logged search.
TYPING_COLLAPSE = timedelta(seconds=30)
# A new query within this time after one without a click is a refinement of it.
REFINEMENT_WINDOW = timedelta(minutes=5)


def _unique_slug(title: str, *, exclude_pk: int | None = None) -> str:
    base = slugify(title)[:180] or "article"
    slug, n = base, 2
    while Article.objects.filter(slug=slug).exclude(pk=exclude_pk).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def _can_publish(user: User | None) -> bool:
    return user is None or user.has_perm("knowledge.publish_article")


def _next_number(article: Article) -> int:
    last = article.versions.order_by("-number").values_list("number", flat=True).first()
    return (last or 0) + 1


# --- articles ---------------------------------------------------------------------------

def create_article(*, title: str, author: User | None, template: str = ArticleTemplate.BLANK,
                   summary: str | None = None, body: str | None = None,
                   section: Section | None = None, audience: str = Audience.PUBLIC,
                   category=None, product_area=None, tags: str = "",
                   owner: User | None = None, review_interval_days: int = 180,
                   from_ticket=None, language: str | None = None,
                   translation_of: Article | None = None) -> Article:
    """A new draft article, starting from its template's content unless given some."""
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": _("An article needs a title.")})
    if template not in ArticleTemplate.values:
        raise ValidationError({"template": _("Unknown template %(template)s.")
                                           % {"template": repr(template)}})
    if audience not in Audience.values:
        raise ValidationError({"audience": _("Unknown audience %(audience)s.")
                                           % {"audience": repr(audience)}})
    language = language or default_language()
    if language not in dict(settings.LANGUAGES):
        raise ValidationError({"language": _("Unknown language %(language)s.")
                                           % {"language": repr(language)}})
    if translation_of is not None and (
            translation_of.language == language
            or Article.objects.filter(translation_of=translation_of,
                                      language=language).exists()):
        raise ValidationError({"language": _("That article already exists in this language.")})
    tpl_summary, tpl_body = starting_content(template)
    now = timezone.now()
    with transaction.atomic():
        article = Article.objects.create(
            title=title[:200], slug=_unique_slug(title), template=template,
            summary=(tpl_summary if summary is None else summary)[:500],
            body=tpl_body if body is None else body, section=section, audience=audience,
            category=category, product_area=product_area, tags=tags,
            owner=owner or author, review_interval_days=review_interval_days,
            created_from_ticket=from_ticket, created_at=now, updated_at=now,
            language=language, translation_of=translation_of,
        )
        ArticleVersion.objects.create(
            article=article, number=1, title=article.title, summary=article.summary,
            body=article.body, author=author, created_at=now, state=VersionState.DRAFT,
            note="created" + (f" from ticket #{from_ticket.pk}" if from_ticket else ""),
        )
        search.index_article([article.pk])
    return article


def open_version(article: Article) -> ArticleVersion | None:
    return article.versions.filter(state__in=OPEN_STATES).first()


def save_draft(article: Article, *, author: User | None, title: str, summary: str, body: str,
               note: str = "") -> ArticleVersion:
    """Save an edit. A published article stays online unchanged: the edit waits in its open
    draft version until published. An unpublished article changes in place."""
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": _("An article needs a title.")})
    now = timezone.now()
    with transaction.atomic():
        article = Article.objects.select_for_update().get(pk=article.pk)
        version = open_version(article)
        if version is None:
            version = ArticleVersion(article=article, number=_next_number(article),
                                     created_at=now)
        version.title, version.summary, version.body = title[:200], summary[:500], body
        version.author, version.note = author, note[:255]
        version.state = VersionState.DRAFT
        version.save()
        if article.status != ArticleStatus.PUBLISHED:
            article.title, article.summary, article.body = version.title, version.summary, body
            if article.status == ArticleStatus.REVIEW:
                article.status = ArticleStatus.DRAFT
            article.updated_at = now
            article.save()
            search.index_article([article.pk])
    return version


def submit_for_review(article: Article, *, actor: User | None) -> None:
    with transaction.atomic():
        version = open_version(article)
        if version is None:
            raise ValidationError(_("There is no draft to review."))
        version.state = VersionState.REVIEW
        version.save(update_fields=["state"])
        if article.status == ArticleStatus.DRAFT:
            article.status = ArticleStatus.REVIEW
            article.updated_at = timezone.now()
            article.save(update_fields=["status", "updated_at"])


def publish(article: Article, *, actor: User | None) -> Article:
    """Publish the open draft (or republish an archived article). The draft's content
    replaces the live content in one step, so readers never see the article offline."""
    if not _can_publish(actor):
        raise PermissionDenied(_("You cannot publish articles."))
    now = timezone.now()
    with transaction.atomic():
        article = Article.objects.select_for_update().get(pk=article.pk)
        version = open_version(article)
        if version is None and article.status == ArticleStatus.PUBLISHED:
            raise ValidationError(_("There is no draft to publish."))
        if version is not None:
            article.versions.filter(state=VersionState.PUBLISHED).update(
                state=VersionState.SUPERSEDED)
            version.state, version.published_at = VersionState.PUBLISHED, now
            version.save(update_fields=["state", "published_at"])
            article.title, article.summary, article.body = (
                version.title, version.summary, version.body)
        article.status = ArticleStatus.PUBLISHED
        article.published_at = article.published_at or now
        article.last_reviewed_on = timezone.localdate(now)
        article.updated_at = now
        article.save()
        ArticleEvent.objects.create(article=article, kind=ArticleEventKind.PUBLISHED,
                                    actor=actor, version=version, created_at=now)
        search.index_article([article.pk])
    return article


def discard_draft(article: Article, *, actor: User | None) -> None:
    with transaction.atomic():
        version = open_version(article)
        if version is None:
            return
        if article.status in (ArticleStatus.DRAFT, ArticleStatus.REVIEW):
            raise ValidationError(_("This article was never published: archive it instead."))
        version.state = VersionState.DISCARDED
        version.save(update_fields=["state"])


def archive(article: Article, *, actor: User | None) -> None:
    if not _can_publish(actor):
        raise PermissionDenied(_("You cannot archive articles."))
    now = timezone.now()
    with transaction.atomic():
        article.status = ArticleStatus.ARCHIVED
        article.updated_at = now
        article.save(update_fields=["status", "updated_at"])
        ArticleEvent.objects.create(article=article, kind=ArticleEventKind.ARCHIVED,
                                    actor=actor, created_at=now)


def mark_reviewed(article: Article, *, actor: User | None, on: date | None = None) -> None:
    """The owner checked the article is still right: the review clock starts again."""
    with transaction.atomic():
        article.last_reviewed_on = on or timezone.localdate()
        article.updated_at = timezone.now()
        article.save()
        article.flags.filter(resolved_at__isnull=True, kind=FlagKind.OUTDATED).update(
            resolved_at=timezone.now())


def flag_article(article: Article, *, reporter: User, kind: str, note: str = "",
                 ticket=None) -> ArticleFlag:
    """An agent reports an article as wrong or outdated; its owner is told (once per flag)."""
    if kind not in FlagKind.values:
        raise ValidationError({"kind": _("Choose wrong or outdated.")})
    with transaction.atomic():
        flag = ArticleFlag.objects.create(article=article, reporter=reporter, kind=kind,
                                          note=note.strip(), ticket=ticket,
                                          created_at=timezone.now())
        if article.owner_id and article.owner_id != reporter.pk:
            with in_language_of(article.owner):  # the title is stored as written
                title = _("Article flagged %(kind)s: %(title)s") % {
                    "kind": flag.get_kind_display().lower(), "title": article.title}
            notify(article.owner, title=title[:200], source="knowledge.flag",
                   body=note[:1000], url=article.get_absolute_url(),
                   dedupe_key=f"knowledge.flag.{flag.pk}")
    return flag


def draft_from_ticket(ticket, *, actor: User) -> Article:
    """A troubleshooting draft from a resolved ticket: the problem from its description, the
    solution from the agents' public replies. Customer details stay out of the draft."""
    if ticket.status not in ("resolved", "closed"):
        raise ValidationError(_("Only resolved tickets can become an article."))
    replies = list(ticket.messages.filter(is_public=True, by_agent=True)
                   .order_by("-created_at").values_list("body", flat=True)[:1])
    solution = replies[0] if replies else "<the fix>"
    body = (f"## Problem\n\n{ticket.description.strip()}\n\n## Cause\n\n<Why it happens.>\n\n"
            f"## Solution\n\n{solution.strip()}\n")
    return create_article(
        title=ticket.subject, author=actor, template=ArticleTemplate.TROUBLESHOOTING,
        body=body, summary="", category=ticket.category, product_area=ticket.product_area,
        audience=Audience.CUSTOMERS, from_ticket=ticket,
    )


def send_review_reminders(*, today: date | None = None) -> int:
    """Weekly: tell each owner which of their published articles are past their review
    date. One notification per owner and ISO week (dedupe key), so reruns send nothing."""
    from . import selectors

    today = today or timezone.localdate()
    year, week = today.isocalendar()[:2]  # not `_`: the function translates
    sent = 0
    for owner, articles in selectors.overdue_by_owner(today=today).items():
        with in_language_of(owner):  # stored as written: the list too, dates included
            titles = "\n".join(_("- %(title)s (due %(date)s)") % {
                "title": a.title, "date": display.date_format(a.review_due_on)}
                for a in articles[:20])
            title = ngettext("%(num)s help-center article needs a review",
                             "%(num)s help-center articles need a review",
                             len(articles)) % {"num": len(articles)}
        notify(owner, title=title,
               source="knowledge.freshness", body=titles, url="/help/manage/freshness/",
               dedupe_key=f"knowledge.freshness.{owner.pk}.{year}-W{week:02d}")
        sent += 1
    return sent


# --- visits and analytics ----------------------------------------------------------------

@contextmanager
def analytics_atomic() -> Iterator[None]:
    """One transaction for a help-center request's analytics writes (visit, search log,
    view). On PostgreSQL it commits without waiting for the WAL flush: losing the last
    few hundred milliseconds of analytics in a crash is acceptable, a slower search is not."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SET LOCAL synchronous_commit TO OFF")
        yield


# last_seen_at moves at most once a minute: a minute is nothing against a 24-hour
# attribution window, and search-as-you-type would otherwise write the visit per keystroke.
TOUCH_EVERY = timedelta(seconds=60)


def touch_visit(key: str | None, *, user: User | None) -> Visit:
    """The reader's current visit (from the cookie), started if unknown. A visit seen again
    by a signed-in user is theirs, so a ticket they file can be attributed to it."""
    now = timezone.now()
    visit = None
    if key:
        try:
            visit = Visit.objects.filter(key=uuid.UUID(str(key))).first()
        except ValueError:
            visit = None
    # A visit idle for longer than the attribution window is over: a new one starts.
    if visit is not None and visit.last_seen_at + conf.attribution_window() < now:
        visit = None
    signed_in = user is not None and user.is_authenticated
    if visit is None:
        return Visit.objects.create(user=user if signed_in else None, started_at=now,
                                    last_seen_at=now)
    fields = {}
    if now - visit.last_seen_at >= TOUCH_EVERY:
        fields["last_seen_at"] = now
    if signed_in and visit.user_id is None:
        fields["user"] = user
    if fields:
        Visit.objects.filter(pk=visit.pk).update(**fields)
        for k, v in fields.items():
            setattr(visit, k, v)
    return visit


def _last_search_key(visit: Visit, source: str) -> str:
    return f"knowledge:last-search:{visit.pk}:{source}"


def log_search(*, visit: Visit | None, text: str, result_count: int,
               source: str = SearchSource.HELP_CENTER) -> SearchLog | None:
    """Log one search. Search-as-you-type sends every pause in typing: a query that extends
    (or trims) the visit's previous one within seconds updates that row instead. The
    visit's previous search is remembered in the cache (cleared by a click) to spare a
    database round trip per keystroke."""
    query = normalise(text)
    if not query:
        return None
    now = timezone.now()
    with transaction.atomic(savepoint=False):
        previous = cache.get(_last_search_key(visit, source)) if visit is not None else None
        # previous: (id, query, created_at) of the visit's last search without a click.
        if (previous is not None and now - previous[2] <= TYPING_COLLAPSE
                and (query.startswith(previous[1]) or previous[1].startswith(query))):
            updated = SearchLog.objects.filter(pk=previous[0], clicked_at__isnull=True).update(
                query=query, result_count=result_count, created_at=now)
            if updated:
                cache.set(_last_search_key(visit, source), (previous[0], query, now),
                          REFINEMENT_WINDOW.total_seconds())
                return SearchLog(pk=previous[0], query=query, created_at=now, source=source,
                                 visit=visit, result_count=result_count)
        if (previous is not None and now - previous[2] <= REFINEMENT_WINDOW
                and previous[1] != query):
            SearchLog.objects.filter(pk=previous[0], clicked_at__isnull=True).update(
                refined_to=query)
        log = SearchLog.objects.create(query=query, created_at=now, source=source,
                                       visit=visit, result_count=result_count)
        if visit is not None:
            cache.set(_last_search_key(visit, source), (log.pk, query, now),
                      REFINEMENT_WINDOW.total_seconds())
            if not visit.first_query:
                Visit.objects.filter(pk=visit.pk, first_query="").update(first_query=query)
                visit.first_query = query
    return log


def record_view(*, visit: Visit | None, article: Article, search_id: int | None = None) -> None:
    """An article was read; a click from a search result marks that search successful."""
    now = timezone.now()
    with transaction.atomic(savepoint=False):
        search_log = None
        if search_id and visit is not None:
            search_log = SearchLog.objects.filter(pk=search_id, visit=visit).first()
            if search_log is not None and search_log.clicked_at is None:
                SearchLog.objects.filter(pk=search_log.pk).update(
                    clicked_article=article, clicked_at=now, refined_to="")
                cache.delete(_last_search_key(visit, search_log.source))
        ArticleView.objects.create(article=article, visit=visit, search=search_log,
                                   created_at=now)
        Article.objects.filter(pk=article.pk).update(view_count=F("view_count") + 1)
        if visit is not None:
            Visit.objects.filter(pk=visit.pk).update(article_views=F("article_views") + 1,
                                                     last_seen_at=now)


def vote(*, visit: Visit, article: Article, helpful: bool, reason: str = "",
         comment: str = "", user: User | None = None) -> ArticleVote:
    """"Was this helpful?": one vote per visit and article; voting again changes it."""
    if reason not in VoteReason.values:
        raise ValidationError({"reason": _("Unknown reason.")})
    now = timezone.now()
    with transaction.atomic():
        Article.objects.select_for_update().filter(pk=article.pk).first()
        existing = ArticleVote.objects.filter(article=article, visit=visit).first()
        if existing is not None:
            if existing.helpful != helpful:
                Article.objects.filter(pk=article.pk).update(
                    helpful_count=F("helpful_count") + (1 if helpful else -1),
                    unhelpful_count=F("unhelpful_count") + (-1 if helpful else 1))
            existing.helpful, existing.reason = helpful, "" if helpful else reason
            existing.comment, existing.created_at = comment[:500], now
            existing.save()
            return existing
        try:
            with transaction.atomic():
                created = ArticleVote.objects.create(
                    article=article, visit=visit, user=user if user and user.is_authenticated
                    else None, helpful=helpful, reason="" if helpful else reason,
                    comment=comment[:500], created_at=now)
        except IntegrityError:  # a double click raced us; the first vote stands
            return ArticleVote.objects.get(article=article, visit=visit)
        counter = "helpful_count" if helpful else "unhelpful_count"
        Article.objects.filter(pk=article.pk).update(**{counter: F(counter) + 1})
    return created


def mark_solved(*, visit: Visit, article: Article | None) -> None:
    """The reader said "this solved my problem": the visit is deflected."""
    now = timezone.now()
    Visit.objects.filter(pk=visit.pk, solved_at__isnull=True).update(
        solved_at=now, solved_article=article, last_seen_at=now)


def attribute_ticket(ticket) -> Visit | None:
    """A ticket was filed: it belongs to the requester's latest help-center visit whose
    last activity is within the attribution window before it (if any)."""
    window = conf.attribution_window()
    created = ticket.created_at
    with transaction.atomic():
        visit = (Visit.objects.select_for_update()
                 .filter(user_id=ticket.requester_id, ticket_filed_at__isnull=True,
                         last_seen_at__gte=created - window, started_at__lte=created)
                 .order_by("-last_seen_at").first())
        if visit is None:
            return None
        visit.ticket, visit.ticket_filed_at = ticket, created
        visit.save(update_fields=["ticket", "ticket_filed_at"])
        SearchLog.objects.filter(visit=visit).update(ticket_followed=True)
    return visit

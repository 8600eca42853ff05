"""Help-center sections and articles of an import, with their original dates.

Articles are written directly (the knowledge services stamp "now") with one version
holding the imported content, then indexed for search. A changed source article gets a
new version, published when the source's is.
"""
from __future__ import annotations

from datetime import datetime

from django.db.models import Max
from django.utils.text import slugify

from knowledge import search
from knowledge.models import Article, ArticleStatus, ArticleVersion, Section, VersionState

from . import mapping
from .book import RecordBook
from .people import People
from .records import ArticleRecord, Problem, SectionRecord
from .sources import SourceReader


def _free_slug(text: str, taken: set[str], *, max_length: int) -> str:
    base = (slugify(text) or mapping.slug_text(text))[:max_length - 6] or "imported"
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    taken.add(slug)
    return slug


def _ordered(sections: list[SectionRecord]) -> list[SectionRecord]:
    """Parents before their children (a parent missing from the source counts as none)."""
    keys = {s.key for s in sections}
    done: set[int] = set()
    ordered: list[SectionRecord] = []
    pending = list(sections)
    while pending:
        ready = [s for s in pending if s.parent_key is None or s.parent_key in done
                 or s.parent_key not in keys]
        if not ready:  # a cycle: break it at the first one
            ready = pending[:1]
        for s in ready:
            ordered.append(s)
            done.add(s.key)
        pending = [s for s in pending if s.key not in done]
    return ordered


def import_knowledge(source: SourceReader, book: RecordBook, people: People,
                     counts: dict[str, dict[str, int]], *, now: datetime) -> list[Problem]:
    problems: list[Problem] = []
    section_ids = _sections(list(source.sections()), book, counts)
    known = book.all("article")
    slugs = set(Article.objects.values_list("slug", flat=True))
    touched: list[int] = []
    new_rows = []
    for record in source.articles():
        section = section_ids.get(record.section_key) if record.section_key else None
        if record.section_key and section is None:
            problems.append(Problem("article", str(record.key), "refers to a missing section",
                                    f"section {record.section_key}: imported without one"))
        if record.key in known:
            target, digest = known[record.key]
            if digest == record.digest:
                counts["articles"]["unchanged"] += 1
                continue
            if _update(target, record, section, people):
                touched.append(target)
                book.set_digest("article", record.key, record.digest)
                counts["articles"]["changed"] += 1
            continue
        article = _create(record, section, people, slugs)
        touched.append(article.pk)
        new_rows.append((record.key, article.pk, record.digest))
        counts["articles"]["new"] += 1
    book.add("article", new_rows)
    if touched:
        search.index_article(touched)
    return problems


def _sections(records: list[SectionRecord], book: RecordBook,
              counts: dict[str, dict[str, int]]) -> dict[int, int]:
    known = book.all("section")
    slugs = set(Section.objects.values_list("slug", flat=True))
    ids: dict[int, int] = {}
    rows = []
    for record in _ordered(records):
        parent = ids.get(record.parent_key) if record.parent_key is not None else None
        if record.key in known:
            ids[record.key] = known[record.key][0]
            Section.objects.filter(pk=ids[record.key]).update(
                name=record.name[:120], description=record.description)
            counts["help-center sections"]["unchanged"] += 1
            continue
        section = Section.objects.create(
            name=record.name[:120] or "Imported", description=record.description,
            slug=_free_slug(record.name, slugs, max_length=120), parent_id=parent,
            position=record.position)
        ids[record.key] = section.pk
        rows.append((record.key, section.pk, None))
        counts["help-center sections"]["new"] += 1
    book.add("section", rows)
    return ids


def _owner(record: ArticleRecord, people: People) -> int | None:
    user = people.user(record.author)
    return user if user in people.staff else None


def _create(record: ArticleRecord, section: int | None, people: People,
            slugs: set[str]) -> Article:
    status = ArticleStatus.PUBLISHED if record.published else ArticleStatus.DRAFT
    article = Article(
        section_id=section, slug=_free_slug(record.title, slugs, max_length=200),
        title=record.title[:200], summary=record.summary[:500], body=record.body,
        tags=", ".join(record.tags)[:255], audience=record.audience, status=status,
        owner_id=_owner(record, people), created_at=record.created_at,
        updated_at=record.updated_at,
        published_at=record.updated_at if record.published else None,
        last_reviewed_on=record.updated_at.date() if record.published else None,
        helpful_count=record.helpful, unhelpful_count=record.unhelpful,
    )
    article.save()
    ArticleVersion.objects.create(
        article=article, number=1, title=article.title, summary=article.summary,
        body=article.body, author_id=article.owner_id, created_at=record.created_at,
        state=VersionState.PUBLISHED if record.published else VersionState.DRAFT,
        published_at=article.published_at, note="imported")
    return article


def _update(target: int, record: ArticleRecord, section: int | None, people: People) -> bool:
    article = Article.objects.filter(pk=target).first()
    if article is None:
        return False
    last = article.versions.aggregate(last=Max("number"))["last"] or 0
    article.versions.filter(state__in=[VersionState.DRAFT, VersionState.REVIEW]).update(
        state=VersionState.SUPERSEDED)
    if record.published:
        article.versions.filter(state=VersionState.PUBLISHED).update(
            state=VersionState.SUPERSEDED)
    article.title, article.summary, article.body = (record.title[:200], record.summary[:500],
                                                    record.body)
    article.section_id = section
    article.audience = record.audience
    article.tags = ", ".join(record.tags)[:255]
    article.helpful_count, article.unhelpful_count = record.helpful, record.unhelpful
    article.updated_at = record.updated_at
    if record.published:
        article.status = ArticleStatus.PUBLISHED
        article.published_at = article.published_at or record.updated_at
        article.last_reviewed_on = record.updated_at.date()
    elif article.status == ArticleStatus.PUBLISHED:
        article.status = ArticleStatus.ARCHIVED
    article.save()
    ArticleVersion.objects.create(
        article=article, number=last + 1, title=article.title,
        summary=article.summary, body=article.body, author_id=_owner(record, people),
        created_at=record.updated_at,
        state=VersionState.PUBLISHED if record.published else VersionState.SUPERSEDED,
        published_at=record.updated_at if record.published else None,
        note="imported again (changed in the source)")
    return True

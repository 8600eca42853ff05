"""One search interface over two backends: PostgreSQL full-text search (weighted vector,
GIN index, ts_rank, prefix tsquery, pg_trgm fallback for typos) and SQLite FTS5 (bm25 with
column weights, snippet(), difflib fallback over the article vocabulary).

Callers use `search(text, audiences=..., limit=...)` and never branch on the database.
Audience and status filtering happens inside the SQL query, so an article the reader may
not see is never fetched.
"""
# ruff: noqa: S608 - table names are module constants; every value is a bound parameter.
from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import connection
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from . import conf
from .models import Article, Audience, Synonym
from .query import (
    MAX_CLAUSES,
    ParsedQuery,
    normalise,
    parse,
    replace_words,
    to_fts5,
    to_tsquery,
)

# Highlight markers that survive the database untouched; replaced by <mark> after escaping.
START, STOP = "\u27e6", "\u27e7"
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MD_LINE_MARK = re.compile(r"(?m)^\s{0,3}(#{1,6}|>)\s?")
_MD_EMPHASIS = re.compile(r"\*\*|__|`+")
FTS_TABLE = "knowledge_article_fts"
TRIGRAM_THRESHOLD = 0.4
SUGGEST_CLAUSES = 6
SYNONYMS_CACHE_KEY = "knowledge:synonyms"
VOCAB_VERSION_KEY = "knowledge:vocab-version"


@dataclass(frozen=True)
class Hit:
    id: int
    slug: str
    title: str
    summary: str
    audience: str
    snippet: SafeString
    score: float


@dataclass
class SearchResult:
    query: str  # normalised
    hits: list[Hit] = field(default_factory=list)
    corrected: bool = False  # found through the typo fallback

    def __len__(self) -> int:
        return len(self.hits)


def audiences_for(user) -> tuple[str, ...]:
    """Who sees what: anonymous readers public articles, customers also the logged-in ones,
    agents everything including internal articles."""
    if user is None or not user.is_authenticated:
        return (Audience.PUBLIC.value,)
    if getattr(user, "is_agent", False):
        return (Audience.PUBLIC.value, Audience.CUSTOMERS.value, Audience.INTERNAL.value)
    return (Audience.PUBLIC.value, Audience.CUSTOMERS.value)


def synonym_groups() -> list[list[str]]:
    groups = cache.get(SYNONYMS_CACHE_KEY)
    if groups is None:
        groups = [s.term_list for s in Synonym.objects.all()]
        cache.set(SYNONYMS_CACHE_KEY, groups, 300)
    return groups


def forget_synonyms() -> None:
    cache.delete(SYNONYMS_CACHE_KEY)


def safe_highlight(text: str) -> SafeString:
    """Escape first, then turn the database's markers into <mark>: HTML in an article body
    can never reach the page through a snippet."""
    html = escape(_plain(text)).replace(START, "<mark>").replace(STOP, "</mark>")
    # A marker cut off by the snippet window would leave an unbalanced tag.
    opened, closed = html.count("<mark>"), html.count("</mark>")
    html += "</mark>" * max(0, opened - closed)
    return mark_safe(html)  # noqa: S308 - escaped above


def _plain(text: str) -> str:
    text = _MD_LINK.sub(r"\1", text or "")  # Markdown syntax is noise in a snippet
    text = _MD_EMPHASIS.sub("", _MD_LINE_MARK.sub("", text))
    return re.sub(r"\s+", " ", text).strip()


def make_snippet(body: str, words: Sequence[str], *, width: int = 200) -> SafeString:
    """About `width` characters of the body around the first query word, words marked.
    A word matches its inflections ("invoices" marks "invoice"), roughly as a stemmer would:
    the last two letters of a long word, the last of a five-letter one, are optional."""
    text = _plain(body)
    stems = sorted({w[:-2] if len(w) > 6 else w[:-1] if len(w) > 4 else w
                    for w in words if w}, key=len, reverse=True)
    if not stems:
        return safe_highlight(text[:width])
    pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, stems)) + r")\w*", re.IGNORECASE)
    first = pattern.search(text)
    start = 0 if first is None else max(0, first.start() - width // 3)
    if start:
        start = text.find(" ", start) + 1 or start
    end = min(len(text), start + width)
    if end < len(text):
        end = text.rfind(" ", start, end) if text.rfind(" ", start, end) > start else end
    window = pattern.sub(lambda m: f"{START}{m.group(0)}{STOP}", text[start:end])
    return safe_highlight(("… " if start else "") + window + (" …" if end < len(text) else ""))


class Backend:
    vendor = ""

    def run(self, parsed: ParsedQuery, *, audiences: Sequence[str], limit: int,
            any_clause: bool, exclude: Sequence[int]) -> list[Hit]:
        raise NotImplementedError

    def fuzzy(self, parsed: ParsedQuery, text: str, *, audiences: Sequence[str], limit: int,
              exclude: Sequence[int]) -> list[Hit]:
        raise NotImplementedError

    def index(self, article_ids: Collection[int] | None = None) -> None:
        raise NotImplementedError


class PostgresBackend(Backend):
    vendor = "postgresql"

    SQL = """
        WITH q AS (SELECT to_tsquery('english', %s) AS q)
        SELECT a.id, a.slug, a.title, a.summary, a.audience, a.body, r.rank
        FROM (
            SELECT id, ts_rank({vector}, q.q) AS rank
            FROM knowledge_article, q
            WHERE {vector} @@ q.q AND status = 'published' AND audience = ANY(%s)
              AND NOT (id = ANY(%s)) {extra}
            ORDER BY rank DESC, id
            LIMIT %s
        ) r JOIN knowledge_article a ON a.id = r.id
        ORDER BY r.rank DESC, a.id
    """
    # Stage 1: matches in title/summary/tags, ranked on the small head vector.
    HEAD_SQL = SQL.format(vector="head_vector", extra="")
    # Stage 2, only when stage 1 leaves room: matches in the body alone, ranked after.
    BODY_SQL = SQL.format(vector="search_vector", extra="AND NOT (head_vector @@ q.q)")
    FUZZY_SQL = """
        SELECT a.id, a.slug, a.title, a.summary, a.audience,
               a.body, r.sim
        FROM (
            SELECT id, word_similarity(%s, lower(title)) AS sim
            FROM knowledge_article
            WHERE status = 'published' AND audience = ANY(%s) AND NOT (id = ANY(%s))
              AND %s <%% lower(title)
            ORDER BY sim DESC, id
            LIMIT %s
        ) r JOIN knowledge_article a ON a.id = r.id
        ORDER BY r.sim DESC, a.id
    """

    def run(self, parsed, *, audiences, limit, any_clause, exclude):
        tsquery = to_tsquery(parsed, any_clause=any_clause)
        with connection.cursor() as cur:
            cur.execute(self.HEAD_SQL, [tsquery, list(audiences), list(exclude), limit])
            rows = cur.fetchall()
            if len(rows) < limit:
                cur.execute(self.BODY_SQL, [tsquery, list(audiences), list(exclude),
                                            limit - len(rows)])
                rows += cur.fetchall()
        # Snippets in Python: ts_headline re-parses every body and cost more than the search.
        words = parsed.words
        return [Hit(r[0], r[1], r[2], r[3], r[4], make_snippet(r[5], words), float(r[6]))
                for r in rows]

    def fuzzy(self, parsed, text, *, audiences, limit, exclude):
        needle = " ".join(parsed.words) or normalise(text)
        with connection.cursor() as cur:
            # The <% operator uses the trigram index with this threshold (transaction-local).
            cur.execute("SELECT set_config('pg_trgm.word_similarity_threshold', %s, true)",
                        [str(TRIGRAM_THRESHOLD)])
            cur.execute(self.FUZZY_SQL, [needle, list(audiences), list(exclude), needle, limit])
            rows = cur.fetchall()
        return [Hit(r[0], r[1], r[2], r[3], r[4], make_snippet(r[5], []), float(r[6]))
                for r in rows]

    def index(self, article_ids=None):
        sql = """
            UPDATE knowledge_article SET search_vector = head || body_vector,
                                         head_vector = head
            FROM (
                SELECT id AS vid,
                       setweight(to_tsvector('english', coalesce(title, '')), 'A')
                    || setweight(to_tsvector('english', coalesce(summary, '') || ' '
                                             || replace(coalesce(tags, ''), ',', ' ')), 'B')
                       AS head,
                       setweight(to_tsvector('english', coalesce(body, '')), 'C') AS body_vector
                FROM knowledge_article {where}
            ) v
            WHERE knowledge_article.id = v.vid
        """
        with connection.cursor() as cur:
            if article_ids is None:
                cur.execute(sql.format(where=""))
            else:
                cur.execute(sql.format(where="WHERE id = ANY(%s)"), [list(article_ids)])


class SqliteBackend(Backend):
    vendor = "sqlite"
    # bm25 weights per FTS column: title, summary, body, tags.
    SQL = f"""
        SELECT a.id, a.slug, a.title, a.summary, a.audience,
               snippet({FTS_TABLE}, 2, '{START}', '{STOP}', ' … ', 24) AS snippet,
               bm25({FTS_TABLE}, 10.0, 4.0, 1.0, 4.0) AS score
        FROM {FTS_TABLE} JOIN knowledge_article a ON a.id = {FTS_TABLE}.rowid
        WHERE {FTS_TABLE} MATCH %s AND a.status = 'published' AND a.audience IN ({{aud}})
          {{exclude}}
        ORDER BY score, a.id
        LIMIT %s
    """

    def run(self, parsed, *, audiences, limit, any_clause, exclude):
        sql = self.SQL.format(
            aud=", ".join(["%s"] * len(audiences)),
            exclude=f"AND a.id NOT IN ({', '.join(['%s'] * len(exclude))})" if exclude else "",
        )
        params = [to_fts5(parsed, any_clause=any_clause), *audiences, *exclude, limit]
        with connection.cursor() as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
        return [Hit(r[0], r[1], r[2], r[3], r[4], safe_highlight(r[5]), -float(r[6]))
                for r in rows]

    def _vocabulary(self, audiences: Sequence[str]) -> list[str]:
        version = cache.get_or_set(VOCAB_VERSION_KEY, 1, None)
        key = f"knowledge:vocab:{version}:{','.join(sorted(audiences))}"
        vocab = cache.get(key)
        if vocab is None:
            words: set[str] = set()
            for title, summary, tags in Article.objects.filter(
                status="published", audience__in=audiences
            ).values_list("title", "summary", "tags").iterator():
                words.update(w for w in normalise(f"{title} {summary} {tags}").split()
                             if len(w) > 2)
            vocab = sorted(words)
            cache.set(key, vocab, 3600)
        return vocab

    def fuzzy(self, parsed, text, *, audiences, limit, exclude):
        vocab = self._vocabulary(audiences)
        known = set(vocab)
        corrections = {}
        for word in parsed.words:
            if word not in known and len(word) > 2:
                close = difflib.get_close_matches(word, vocab, n=1, cutoff=0.75)
                if close:
                    corrections[word] = close[0]
        if not corrections:
            return []
        fixed = replace_words(parsed, corrections)
        return self.run(fixed, audiences=audiences, limit=limit, any_clause=False,
                        exclude=exclude)

    def index(self, article_ids=None):
        with connection.cursor() as cur:
            if article_ids is None:
                cur.execute(f"DELETE FROM {FTS_TABLE}")
                cur.execute(f"INSERT INTO {FTS_TABLE} (rowid, title, summary, body, tags) "
                            "SELECT id, title, summary, body, tags FROM knowledge_article")
            else:
                ids = list(article_ids)
                marks = ", ".join(["%s"] * len(ids))
                cur.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid IN ({marks})", ids)
                cur.execute(f"INSERT INTO {FTS_TABLE} (rowid, title, summary, body, tags) "
                            f"SELECT id, title, summary, body, tags FROM knowledge_article "
                            f"WHERE id IN ({marks})", ids)
        cache.set(VOCAB_VERSION_KEY, (cache.get(VOCAB_VERSION_KEY) or 1) + 1, None)


_BACKENDS = {b.vendor: b for b in (PostgresBackend(), SqliteBackend())}


def backend() -> Backend:
    name = conf.search_backend_name() or connection.vendor
    try:
        return _BACKENDS[name]
    except KeyError:
        raise NotImplementedError(f"No knowledge search backend for {name!r}") from None


def search(text: str, *, audiences: Sequence[str], limit: int = 10, any_words: bool = False,
           exclude: Sequence[int] = (), prefix: bool = True,
           max_clauses: int = MAX_CLAUSES) -> SearchResult:
    """Published articles for `audiences` matching `text`, best first.

    any_words=False (the search box): every word (or one of its synonyms) must match, the
    last one as a prefix; no match at all falls back to typo tolerance.
    any_words=True (suggestions from a ticket's subject and description): any word matches,
    ranked by how many and where.
    """
    result = SearchResult(query=normalise(text))
    parsed = parse(text, synonym_groups(), prefix=prefix and not any_words,
                   max_clauses=max_clauses)
    if parsed.is_empty or not audiences:
        return result
    be = backend()
    result.hits = be.run(parsed, audiences=audiences, limit=limit, any_clause=any_words,
                         exclude=exclude)
    if not result.hits and not any_words:
        result.hits = be.fuzzy(parsed, text, audiences=audiences, limit=limit, exclude=exclude)
        result.corrected = bool(result.hits)
    return result


def suggest(subject: str, description: str = "", *, audiences: Sequence[str],
            limit: int = 5) -> SearchResult:
    """Articles for a ticket being written (or worked): any word may match; the subject's
    words come first and the query keeps the first SUGGEST_CLAUSES distinct words, so a long
    description cannot make the query slow."""
    text = f"{subject} {description[:2000]}"
    return search(text, audiences=audiences, limit=limit, any_words=True,
                  max_clauses=SUGGEST_CLAUSES)


def index_article(article_ids: Collection[int] | None = None) -> None:
    """Bring the search index up to date for these articles (None: all of them)."""
    if article_ids is not None and not article_ids:
        return
    backend().index(article_ids)

"""One search interface over two backends: PostgreSQL full-text search (weighted vectors,
GIN indexes, ts_rank_cd and ts_rank, pg_trgm on the vocabulary for typos) and SQLite FTS5 (bm25 with
column weights, symmetric-delete spelling over the vocabulary).

Both index and query the terms of knowledge.analysis (folded, stemmed, compounds joined),
so they find the same articles. Callers use `search(text, audiences=..., limit=...)` and
never branch on the database. Each article is analysed in its own language (Snowball
English or German, the algorithms of PostgreSQL's 'english' and 'german' configurations)
and a query in the reader's: a reader finds the articles of their language, and those of
the default language when their own has none that match. Audience and status filtering
happens inside the SQL query, so an article the reader may not see is never fetched; the
vocabulary is kept per audience (and language), so neither a correction nor a completion
reveals a word of an article the reader may not see.
"""
# ruff: noqa: S608 - table names are module constants; every value is a bound parameter.
from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import connection, transaction
from django.utils import translation
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from . import analysis, conf
from .models import Audience, Synonym, default_language
from .query import (
    MAX_CLAUSES,
    ParsedQuery,
    normalise,
    parse,
    to_fts5,
    to_tsquery,
    with_alternatives,
)

# Highlight markers that survive the database untouched; replaced by <mark> after escaping.
START, STOP = "\u27e6", "\u27e7"
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MD_LINE_MARK = re.compile(r"(?m)^\s{0,3}(#{1,6}|>)\s?")
_MD_EMPHASIS = re.compile(r"\*\*|__|`+")
FTS_TABLE = "knowledge_article_fts"
TRIGRAM_THRESHOLD = 0.3
COMPLETIONS = 20  # stems a half-typed last word may complete to
MAX_CORRECTIONS = 3  # unknown words corrected per query (a long ticket text has many)
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
    corrected: bool = False  # some word was corrected (spelling)
    suggestion: str = ""  # "did you mean": the query with the corrections
    language: str = ""  # of the articles found (the default one when the reader's had none)

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


class Backend(ABC):
    """One search backend per database vendor (PostgreSQL FTS, SQLite FTS5)."""

    vendor = ""

    @abstractmethod
    def run(self, parsed: ParsedQuery, *, audiences: Sequence[str], language: str,
            limit: int, any_clause: bool, exclude: Sequence[int], head_only: bool
            ) -> list[Hit]:
        ...

    @abstractmethod
    def close_words(self, word: str, *, audiences: Sequence[str], language: str) -> list[str]:
        """Vocabulary words that may be what `word` was meant to be (checked afterwards)."""

    @abstractmethod
    def write_index(self, cur, rows: list[tuple[int, str, str, str, str]]) -> None:
        ...

    @abstractmethod
    def clear_index(self, cur, article_ids: list[int] | None) -> None:
        ...


class PostgresBackend(Backend):
    vendor = "postgresql"

    # Weights {D, C, B, A}: body C, summary and tags B, title A. All-words tiers rank by
    # cover density (how close together the words stand); most-words tiers by ts_rank,
    # which counts the matched words: ts_rank_cd over an OR of six ticket words cost 3-8
    # times as much on whole bodies and broke the suggestions' time budget.
    SQL = """
        WITH q AS (SELECT to_tsquery('simple', %s) AS q)
        SELECT a.id, a.slug, a.title, a.summary, a.audience, a.body, r.rank
        FROM (
            SELECT id, {rank}('{{0.1, 0.2, 0.4, 1.0}}', {vector}, q.q) AS rank
            FROM knowledge_article, q
            WHERE {vector} @@ q.q AND status = 'published' AND audience = ANY(%s)
              AND language = %s AND NOT (id = ANY(%s))
            ORDER BY rank DESC, id
            LIMIT %s
        ) r JOIN knowledge_article a ON a.id = r.id
        ORDER BY r.rank DESC, a.id
    """
    # The small head vector (title, summary, tags) ranks thousands of matches in a few ms;
    # whole bodies are read only when the heads leave room.
    QUERIES = {  # (any_clause, head_only) -> SQL
        (False, True): SQL.format(vector="head_vector", rank="ts_rank_cd"),
        (False, False): SQL.format(vector="search_vector", rank="ts_rank_cd"),
        (True, True): SQL.format(vector="head_vector", rank="ts_rank"),
        (True, False): SQL.format(vector="search_vector", rank="ts_rank"),
    }
    CLOSE_SQL = """
        SELECT word FROM knowledge_searchterm
        WHERE audience = ANY(%s) AND language = %s AND word %% %s
        ORDER BY similarity(word, %s) DESC, word
        LIMIT 8
    """

    def run(self, parsed, *, audiences, language, limit, any_clause, exclude, head_only):
        tsquery = to_tsquery(parsed, any_clause=any_clause)
        with connection.cursor() as cur:
            cur.execute(self.QUERIES[any_clause, head_only],
                        [tsquery, list(audiences), language, list(exclude), limit])
            rows = cur.fetchall()
        # Snippets in Python: ts_headline re-parses every body and cost more than the search.
        words = parsed.words
        return [Hit(r[0], r[1], r[2], r[3], r[4], make_snippet(r[5], words), float(r[6]))
                for r in rows]

    def close_words(self, word, *, audiences, language):
        with connection.cursor() as cur:
            # The % operator uses the trigram index with this threshold (transaction-local).
            cur.execute("SELECT set_config('pg_trgm.similarity_threshold', %s, true)",
                        [str(TRIGRAM_THRESHOLD)])
            cur.execute(self.CLOSE_SQL, [list(audiences), language, word, word])
            return [r[0] for r in cur.fetchall()]

    def write_index(self, cur, rows):
        cur.execute("""
            UPDATE knowledge_article a
            SET head_vector = setweight(to_tsvector('simple', v.t), 'A')
                              || setweight(to_tsvector('simple', v.s), 'B'),
                search_vector = setweight(to_tsvector('simple', v.t), 'A')
                                || setweight(to_tsvector('simple', v.s), 'B')
                                || setweight(to_tsvector('simple', v.b), 'C')
            FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[]) AS v(id, t, s, b)
            WHERE a.id = v.id
        """, [[r[0] for r in rows], [r[1] for r in rows], [f"{r[2]} {r[4]}" for r in rows],
              [r[3] for r in rows]])

    def clear_index(self, cur, article_ids):
        pass  # each article's vectors are overwritten in place


class SqliteBackend(Backend):
    vendor = "sqlite"
    # bm25 weights per FTS column: title, summary, body, tags.
    SQL = f"""
        SELECT a.id, a.slug, a.title, a.summary, a.audience, a.body,
               bm25({FTS_TABLE}, 10.0, 4.0, 1.0, 4.0) AS score
        FROM {FTS_TABLE} JOIN knowledge_article a ON a.id = {FTS_TABLE}.rowid
        WHERE {FTS_TABLE} MATCH %s AND a.status = 'published' AND a.audience IN ({{aud}})
          AND a.language = %s {{exclude}}
        ORDER BY score, a.id
        LIMIT %s
    """

    def run(self, parsed, *, audiences, language, limit, any_clause, exclude, head_only):
        sql = self.SQL.format(
            aud=", ".join(["%s"] * len(audiences)),
            exclude=f"AND a.id NOT IN ({', '.join(['%s'] * len(exclude))})" if exclude else "",
        )
        match = to_fts5(parsed, any_clause=any_clause)
        if head_only:
            match = "{title summary tags} : (" + match + ")"
        with connection.cursor() as cur:
            cur.execute(sql, [match, *audiences, language, *exclude, limit])
            rows = cur.fetchall()
        words = parsed.words
        return [Hit(r[0], r[1], r[2], r[3], r[4], make_snippet(r[5], words), -float(r[6]))
                for r in rows]

    def close_words(self, word, *, audiences, language):
        index = _spelling_index(tuple(sorted(audiences)), language)
        found: set[str] = set()
        for variant in analysis.deletes(word, 2):
            found.update(index.get(variant, ()))
        if not found:  # two letters missing: the words of the same initial, near its length
            found = {w for w in index.get("\0" + word[:1], ())
                     if abs(len(w) - len(word)) <= 2}
        return sorted(found)

    def write_index(self, cur, rows):
        cur.executemany(f"INSERT INTO {FTS_TABLE} (rowid, title, summary, body, tags) "
                        "VALUES (%s, %s, %s, %s, %s)", rows)

    def clear_index(self, cur, article_ids):
        if article_ids is None:
            cur.execute(f"DELETE FROM {FTS_TABLE}")
        else:
            marks = ", ".join(["%s"] * len(article_ids))
            cur.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid IN ({marks})", article_ids)


_SPELLING: dict[tuple, dict[str, list[str]]] = {}


def _spelling_index(audiences: tuple[str, ...], language: str) -> dict[str, list[str]]:
    """Symmetric-delete index of the vocabulary (each word and its stem, and their
    one-letter deletions; under "\\0" + initial the words of each initial), built once
    per vocabulary version in each process."""
    key = (cache.get_or_set(VOCAB_VERSION_KEY, 1, None), audiences, language)
    index = _SPELLING.get(key)
    if index is None:
        marks = ", ".join(["%s"] * len(audiences))
        with connection.cursor() as cur:
            cur.execute(f"SELECT DISTINCT word FROM knowledge_searchterm "
                        f"WHERE audience IN ({marks}) AND language = %s",
                        [*audiences, language])
            vocab = [r[0] for r in cur.fetchall()]
        index = {}
        for word in vocab:
            for variant in (analysis.deletes(word, 1)
                            | analysis.deletes(analysis.stem(word, language), 1)):
                index.setdefault(variant, []).append(word)
            index.setdefault("\0" + word[:1], []).append(word)
        for old in [k for k in _SPELLING if k[0] != key[0]]:
            del _SPELLING[old]
        _SPELLING[key] = index
    return index


_BACKENDS = {b.vendor: b for b in (PostgresBackend(), SqliteBackend())}


def backend() -> Backend:
    name = conf.search_backend_name() or connection.vendor
    try:
        return _BACKENDS[name]
    except KeyError:
        raise NotImplementedError(f"No knowledge search backend for {name!r}") from None


def _look_up(stems: Collection[str], typed: str | None,
             audiences: Sequence[str], language: str) -> tuple[set[str], list[str]]:
    """In one round trip: which of `stems` the vocabulary knows, and the stems of the words
    that start with `typed` (the word still being typed, if any)."""
    aud = ", ".join(["%s"] * len(audiences))
    parts, params = [], []
    if stems:
        parts.append(f"SELECT 'k', stem FROM knowledge_searchterm WHERE audience IN ({aud}) "
                     f"AND language = %s AND stem IN ({', '.join(['%s'] * len(stems))})")
        params += [*audiences, language, *stems]
    if typed:
        parts.append(f"SELECT 'c', stem FROM (SELECT DISTINCT stem FROM knowledge_searchterm "
                     f"WHERE audience IN ({aud}) AND language = %s AND word >= %s "
                     f"AND word < %s LIMIT {COMPLETIONS}) c")
        params += [*audiences, language, typed, typed + "\uffff"]
    if not parts:
        return set(), []
    with connection.cursor() as cur:
        cur.execute(" UNION ALL ".join(parts), params)
        rows = cur.fetchall()
    return {r[1] for r in rows if r[0] == "k"}, [r[1] for r in rows if r[0] == "c"]


def correct(word: str, *, audiences: Sequence[str], language: str = analysis.DEFAULT
            ) -> str | None:
    """The vocabulary word closest to a word no visible article uses (edit distance, one
    typo in a word of up to seven letters, two in a longer one), or None."""
    allowed = analysis.allowed_typos(word)
    if not allowed or not word.isalpha():
        return None
    best: tuple | None = None
    stem = analysis.stem(word, language)
    for candidate in backend().close_words(word, audiences=audiences, language=language):
        # Stems too: "webhok" is one letter from "webhooks" once both lose their ending.
        distance = min(analysis.edit_distance(word, candidate, allowed),
                       analysis.edit_distance(stem, analysis.stem(candidate, language),
                                              allowed))
        if distance <= allowed:
            rank = (distance, candidate[0] != word[0], abs(len(candidate) - len(word)),
                    candidate)
            best = min(best, rank) if best else rank
    return best[-1] if best else None


def _expand(parsed: ParsedQuery, audiences: Sequence[str], language: str
            ) -> tuple[ParsedQuery, dict[str, str]]:
    """Per word: complete the word still being typed, and correct the spelling of a word
    that no article the reader may see contains. Returns the query and the corrections."""
    single = {i: clause[0][0] for i, clause in enumerate(parsed.clauses)
              if len(clause) == 1 and len(clause[0]) == 1 and not parsed.from_synonym[i]}
    typing = next((i for i, t in single.items() if t.prefix), None)
    known, completions = _look_up(
        {t.word for t in single.values()},
        None if typing is None else analysis.joined(parsed.typed[typing]), audiences,
        language)
    extra: dict[int, list[str]] = {}
    complete: set[int] = set()
    corrections: dict[str, str] = {}
    for i, term in single.items():
        typed = analysis.joined(parsed.typed[i])
        if term.prefix:
            extra[i] = completions
            if len(extra[i]) < COMPLETIONS:
                complete.add(i)  # every completion is listed: no prefix term needed
            if extra[i] or term.word in known:
                continue
        elif term.word in known:
            continue
        if len(corrections) >= MAX_CORRECTIONS:
            break
        fixed = correct(typed, audiences=audiences, language=language)
        if fixed:
            corrections[parsed.typed[i]] = fixed
            extra.setdefault(i, []).append(analysis.stem(fixed, language))
    return with_alternatives(parsed, extra, replace={i for i in complete if extra[i]}), \
        corrections


def reader_language(language: str | None = None) -> str:
    """The analysis language of a reader: the one given, else the active one ("de-at" and
    "de" -> "de"); a language without its own analysis reads the default one."""
    code = analysis.language_of(language or translation.get_language() or default_language())
    return code


def search(text: str, *, audiences: Sequence[str], limit: int = 10, any_words: bool = False,
           exclude: Sequence[int] = (), prefix: bool = True,
           max_clauses: int = MAX_CLAUSES, language: str | None = None) -> SearchResult:
    """Published articles for `audiences` matching `text`, best first.

    Articles with every meaningful word (or a synonym, a completion of the word being
    typed, a spelling correction) come first, title and summary matches before body ones;
    then articles with some of the words, ranked by BM25 (SQLite) or ts_rank (PostgreSQL)
    with title, summary and body weights. So a query with one meaningful word that some
    article contains never comes back empty. Stop words never decide.

    any_words=True (suggestions from a ticket's subject and description): the same
    ranking, without treating the last word as typed half-way.

    language: the reader's (default: the active language). Only articles in it are
    searched; when none matches, the articles of the default language are.
    """
    wanted = reader_language(language)
    result = _search_in(wanted, text, audiences=audiences, limit=limit, any_words=any_words,
                        exclude=exclude, prefix=prefix, max_clauses=max_clauses)
    fallback = analysis.language_of(default_language())
    if not result.hits and wanted != fallback:
        result = _search_in(fallback, text, audiences=audiences, limit=limit,
                            any_words=any_words, exclude=exclude, prefix=prefix,
                            max_clauses=max_clauses)
    return result


def _search_in(language: str, text: str, *, audiences: Sequence[str], limit: int,
               any_words: bool, exclude: Sequence[int], prefix: bool,
               max_clauses: int) -> SearchResult:
    result = SearchResult(query=normalise(text), language=language)
    parsed = parse(text, synonym_groups(), prefix=prefix and not any_words,
                   max_clauses=max_clauses, language=language)
    if parsed.is_empty or not audiences:
        return result
    parsed, corrections = _expand(parsed, audiences, language)
    be = backend()
    hits: list[Hit] = []
    found = list(exclude)
    tiers = [(False, True), (False, False)]
    if len(parsed.clauses) > 1:
        tiers += [(True, True), (True, False)]
    for any_clause, head_only in tiers:
        if len(hits) >= limit:
            break
        more = be.run(parsed, audiences=audiences, language=language, limit=limit - len(hits),
                      any_clause=any_clause, exclude=found, head_only=head_only)
        hits += more
        found += [h.id for h in more]
    result.hits = hits
    if corrections and hits:
        result.corrected = True
        result.suggestion = " ".join(corrections.get(w, w) for w in result.query.split())
    return result


def suggest(subject: str, description: str = "", *, audiences: Sequence[str],
            limit: int = 5, language: str | None = None) -> SearchResult:
    """Articles for a ticket being written (or worked), ranked as the search box ranks: the
    subject's words come first and the query keeps the first SUGGEST_CLAUSES distinct
    words, so a long description cannot make the query slow."""
    text = f"{subject} {description[:2000]}"
    return search(text, audiences=audiences, limit=limit, any_words=True,
                  max_clauses=SUGGEST_CLAUSES, language=language)


def index_article(article_ids: Collection[int] | None = None) -> None:
    """Bring the search index and the vocabulary up to date for these articles (None: all
    of them, which also forgets words no article uses any more)."""
    if article_ids is not None and not article_ids:
        return
    rebuild(connection, backend(), None if article_ids is None else list(article_ids))
    cache.set(VOCAB_VERSION_KEY, (cache.get(VOCAB_VERSION_KEY) or 1) + 1, None)


def rebuild(conn, be: Backend, article_ids: list[int] | None) -> None:
    """Index articles with raw SQL only (the migration that changed the analysis calls it)."""
    where, params = "", []
    if article_ids is not None:
        where = f"WHERE id IN ({', '.join(['%s'] * len(article_ids))})"
        params = article_ids
    with conn.cursor() as cur:
        be.clear_index(cur, article_ids)
        if article_ids is None:
            cur.execute("DELETE FROM knowledge_searchterm")
        cur.execute("SELECT id, title, summary, body, tags, status, audience, language "
                    f"FROM knowledge_article {where} ORDER BY id", params)
        rows = cur.fetchall()
        for start in range(0, len(rows), 500):
            batch = rows[start:start + 500]
            be.write_index(cur, [
                (r[0], analysis.index_text(r[1], r[7]), analysis.index_text(r[2], r[7]),
                 analysis.index_text(r[3], r[7]),
                 analysis.index_text((r[4] or "").replace(",", " "), r[7]))
                for r in batch])
            _add_vocabulary(cur, batch)


def _add_vocabulary(cur, rows: list[tuple]) -> None:
    """Words of the published ones of these rows (id, title, summary, body, tags, status,
    audience, language), under their audience and language."""
    terms: set[tuple[str, str, str, str]] = set()
    for r in rows:
        if r[5] == "published":
            language = analysis.language_of(r[7])
            for word in analysis.vocabulary(f"{r[1]} {r[2]} {r[3]} {r[4]}", language):
                terms.add((word, analysis.stem(word, language), r[6], language))
    cur.executemany("INSERT INTO knowledge_searchterm (word, stem, audience, language) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING", sorted(terms))


def rebuild_vocabulary() -> int:
    """The vocabulary afresh from the published articles: words of articles since archived
    or moved to another audience go (the nightly job). Returns how many words it holds."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM knowledge_searchterm")
        cur.execute("SELECT id, title, summary, body, tags, status, audience, language "
                    "FROM knowledge_article WHERE status = 'published' ORDER BY id")
        rows = cur.fetchall()
        for start in range(0, len(rows), 500):
            _add_vocabulary(cur, rows[start:start + 500])
        cur.execute("SELECT count(*) FROM knowledge_searchterm")
        count = cur.fetchone()[0]
    cache.set(VOCAB_VERSION_KEY, (cache.get(VOCAB_VERSION_KEY) or 1) + 1, None)
    return count

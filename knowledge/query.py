"""Parse a help-center query: normalise it, drop stop words, expand synonyms.

Pure logic (no Django): the search backends render the parsed query into a PostgreSQL
tsquery or an SQLite FTS5 MATCH expression.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

TOKEN = re.compile(r"\w+", re.UNICODE)
MAX_CLAUSES = 16

STOPWORDS = frozenset("""
a about after again all am an and any are as at be been before being but by can cannot
could did do does doing don for from had has have having he her here hers him his how i
if in into is it its itself just me more most my myself no nor not of off on once only or
other our ours out over own please same she should so some such than that the their them
then there these they this those through to too under until up very was we were what when
where which while who whom why will with would you your yours yourself hi hello thanks
thank get got getting help
""".split())


@dataclass(frozen=True)
class Term:
    word: str
    prefix: bool = False


# A clause matches when any of its alternatives matches; an alternative matches when all
# its terms match. A query is the AND (or, for suggestions, the OR) of its clauses.
Alternative = tuple[Term, ...]
Clause = tuple[Alternative, ...]


@dataclass(frozen=True)
class ParsedQuery:
    clauses: tuple[Clause, ...]

    @property
    def is_empty(self) -> bool:
        return not self.clauses

    @property
    def words(self) -> list[str]:
        """Every distinct word of the query (for highlighting and typo correction)."""
        seen: dict[str, None] = {}
        for clause in self.clauses:
            for alt in clause:
                for term in alt:
                    seen.setdefault(term.word, None)
        return list(seen)


def tokens(text: str) -> list[str]:
    return TOKEN.findall((text or "").lower())


def normalise(text: str) -> str:
    """The form a query is logged and grouped under: lower case, words only."""
    return " ".join(tokens(text))[:255]


def _content(words: Sequence[str]) -> tuple[str, ...]:
    kept = tuple(w for w in words if w not in STOPWORDS)
    return kept or tuple(words)


def parse(text: str, synonyms: Iterable[Sequence[str]] = (), *, prefix: bool = True,
          max_clauses: int = MAX_CLAUSES) -> ParsedQuery:
    """`synonyms`: groups of equivalent terms (each a phrase). `prefix`: the last word the
    user typed also matches longer words (search as you type)."""
    words = tokens(text)
    ends_mid_word = bool(text) and not text[-1].isspace()
    groups = [[tuple(tokens(t)) for t in group] for group in synonyms]
    groups = [[t for t in g if t] for g in groups]
    # Longest phrases first, so "log in" wins over "log".
    candidates = sorted(
        ((phrase, gi) for gi, g in enumerate(groups) for phrase in g),
        key=lambda pg: -len(pg[0]),
    )
    clauses: list[Clause] = []
    seen: set[Clause] = set()
    i = 0
    while i < len(words) and len(clauses) < max_clauses:
        match = next(((phrase, gi) for phrase, gi in candidates
                      if tuple(words[i:i + len(phrase)]) == phrase), None)
        if match:
            phrase, gi = match
            alts: list[Alternative] = []
            for alt_phrase in groups[gi]:
                alt = tuple(Term(w) for w in _content(alt_phrase))
                if alt not in alts:
                    alts.append(alt)
            clause = tuple(alts)
            i += len(phrase)
        else:
            word = words[i]
            i += 1
            is_last = i == len(words)
            if (word in STOPWORDS and not is_last) or len(word) < 2:
                continue
            if word in STOPWORDS and not (prefix and ends_mid_word):
                continue
            clause = ((Term(word, prefix=prefix and is_last and ends_mid_word),),)
        if clause not in seen:
            seen.add(clause)
            clauses.append(clause)
    return ParsedQuery(tuple(clauses))


def replace_words(parsed: ParsedQuery, corrections: dict[str, str]) -> ParsedQuery:
    """The same query with misspelt words replaced (typo fallback)."""
    return ParsedQuery(tuple(
        tuple(tuple(Term(corrections.get(t.word, t.word), t.prefix) for t in alt)
              for alt in clause)
        for clause in parsed.clauses
    ))


def to_tsquery(parsed: ParsedQuery, *, any_clause: bool = False) -> str:
    """PostgreSQL to_tsquery() syntax; words are \\w+ only, so nothing needs escaping."""
    def term(t: Term) -> str:
        return f"{t.word}:*" if t.prefix else t.word

    def clause(c: Clause) -> str:
        return "(" + " | ".join("(" + " & ".join(term(t) for t in alt) + ")" for alt in c) + ")"

    return (" | " if any_clause else " & ").join(clause(c) for c in parsed.clauses)


def to_fts5(parsed: ParsedQuery, *, any_clause: bool = False) -> str:
    """SQLite FTS5 MATCH syntax with every word quoted (no operator injection)."""
    def term(t: Term) -> str:
        return f'"{t.word}"' + ("*" if t.prefix else "")

    def clause(c: Clause) -> str:
        return "(" + " OR ".join("(" + " AND ".join(term(t) for t in alt) + ")"
                                 for alt in c) + ")"

    return (" OR " if any_clause else " AND ").join(clause(c) for c in parsed.clauses)

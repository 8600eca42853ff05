"""Parse a help-center query: analyse its words as the index does, drop stop words, expand
synonyms (matched by stem, so "receipts" finds the group of "receipt").

Pure logic (no Django): the search backends render the parsed query into a PostgreSQL
tsquery or an SQLite FTS5 MATCH expression, both over the analysed terms of
knowledge.analysis.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from . import analysis

MAX_CLAUSES = 16
STOPWORDS = analysis.STOPWORDS


@dataclass(frozen=True)
class Term:
    word: str  # an analysed term (a stem)
    prefix: bool = False


# A clause matches when any of its alternatives matches; an alternative matches when all
# its terms match. A query is the AND (or, in the second tier, the OR) of its clauses.
Alternative = tuple[Term, ...]
Clause = tuple[Alternative, ...]


@dataclass(frozen=True)
class ParsedQuery:
    clauses: tuple[Clause, ...]
    # What the reader typed for each clause (folded), for spelling corrections.
    typed: tuple[str, ...] = ()
    # Clauses that came from a synonym phrase: never "corrected".
    from_synonym: tuple[bool, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.clauses

    @property
    def words(self) -> list[str]:
        """Every distinct typed word and analysed term (for highlighting)."""
        seen: dict[str, None] = {}
        for typed in self.typed:
            for word in analysis.words(typed):
                seen.setdefault(word, None)
        for clause in self.clauses:
            for alt in clause:
                for term in alt:
                    seen.setdefault(term.word, None)
        return list(seen)


def tokens(text: str) -> list[str]:
    return analysis.words(text)


def normalise(text: str) -> str:
    """The form a query is logged and grouped under: lower case, words only."""
    return " ".join(tokens(text))[:255]


def phrase_terms(phrase: str, language: str = analysis.DEFAULT) -> Alternative:
    """The terms a synonym (or any phrase) must all match: compounds joined, stop words out."""
    terms: list[Term] = []
    found = analysis.words(phrase)
    stop = analysis.stopwords(language)
    for n, word in enumerate(found):
        pieces = analysis.parts(word)
        following = found[n + 1] if n + 1 < len(found) else ""
        if len(pieces) > 1 and "-" in word:
            terms.append(Term(analysis.stem("".join(pieces), language)))
        elif phrasal := analysis.phrasal_verb(word, following, language):
            terms.append(Term(phrasal))
        else:
            terms.extend(Term(analysis.stem(p, language)) for p in pieces
                         if p not in stop and len(p) > 1)
    if not terms:  # a phrase of stop words only ("log in" stays "log")
        terms = [Term(analysis.stem(p, language)) for w in analysis.words(phrase)
                 for p in analysis.parts(w)]
    return tuple(dict.fromkeys(terms))


def _phrase_key(phrase: str, language: str = analysis.DEFAULT) -> tuple[str, ...]:
    return tuple(analysis.stem(p, language) for w in analysis.words(phrase)
                 for p in analysis.parts(w))


def parse(text: str, synonyms: Iterable[Sequence[str]] = (), *, prefix: bool = True,
          max_clauses: int = MAX_CLAUSES, language: str = analysis.DEFAULT) -> ParsedQuery:
    """`synonyms`: groups of equivalent terms (each a phrase). `prefix`: the last word the
    user typed also matches longer words (search as you type). `language`: the analysis
    of the articles searched (stems and stop words)."""
    stop = analysis.stopwords(language)
    typed_words = tokens(text)
    ends_mid_word = bool(text) and not text[-1].isspace()
    # The query as a flat run of stemmed parts; a phrase may only start and end on a word.
    flat: list[str] = []
    starts: dict[int, int] = {}  # flat position -> index of the typed word starting there
    for wi, word in enumerate(typed_words):
        starts[len(flat)] = wi
        flat.extend(analysis.stem(p, language) for p in analysis.parts(word))
    ends = {s for s in starts} | {len(flat)}
    groups = [[t for t in group if _phrase_key(t, language)] for group in synonyms]
    # Longest phrases first, so "log in" wins over "log".
    candidates = sorted(((_phrase_key(t, language), gi) for gi, g in enumerate(groups) for t in g),
                        key=lambda pg: -len(pg[0]))
    clauses: list[Clause] = []
    typed: list[str] = []
    from_synonym: list[bool] = []
    seen: set[Clause] = set()
    pos = 0
    while pos < len(flat) and len(clauses) < max_clauses:
        wi = starts[pos]
        match = next(((key, gi) for key, gi in candidates
                      if tuple(flat[pos:pos + len(key)]) == key and pos + len(key) in ends),
                     None)
        if match:
            key, gi = match
            alts: list[Alternative] = []
            for term in groups[gi]:
                alt = phrase_terms(term, language)
                if alt and alt not in alts:
                    alts.append(alt)
            clause: Clause = tuple(alts)
            end = pos + len(key)
            last_wi = max(i for p, i in starts.items() if p < end)
            said = " ".join(typed_words[wi:last_wi + 1])
            pos, synonym = end, True
        else:
            word = typed_words[wi]
            pieces = analysis.parts(word)
            pos += len(pieces)
            is_last = wi == len(typed_words) - 1
            as_prefix = prefix and is_last and ends_mid_word
            said, synonym = word, False
            if len(pieces) > 1 and "-" in word:
                clause = ((Term(analysis.stem("".join(pieces), language), as_prefix),),)
            else:
                # "o'reilly" -> "reilly": an elided letter is no word of its own.
                piece = next((p for p in pieces if len(p) > 1), "")
                if not piece or (piece in stop and not as_prefix):
                    continue
                following = typed_words[wi + 1] if wi + 1 < len(typed_words) else ""
                phrasal = analysis.phrasal_verb(piece, following, language)
                if phrasal:  # "signed out": the phrasal verb first, the verb alone too
                    clause = ((Term(phrasal),), (Term(analysis.stem(piece, language)),))
                else:
                    clause = ((Term(analysis.stem(piece, language), as_prefix),),)
        if clause not in seen:
            seen.add(clause)
            clauses.append(clause)
            typed.append(said)
            from_synonym.append(synonym)
    return ParsedQuery(tuple(clauses), tuple(typed), tuple(from_synonym))


def with_alternatives(parsed: ParsedQuery, extra: dict[int, Sequence[str]], *,
                      replace: Collection[int] = ()) -> ParsedQuery:
    """The same query with more one-term alternatives for some clauses (by index): the
    words a prefix completes to, or the spelling corrections of an unknown word. A clause
    in `replace` keeps only the new alternatives (a prefix whose completions are known)."""
    clauses = list(parsed.clauses)
    for index, terms in extra.items():
        alts = [] if index in replace else list(clauses[index])
        for term in terms:
            alt = (Term(term),)
            if alt not in alts:
                alts.append(alt)
        clauses[index] = tuple(alts)
    return ParsedQuery(tuple(clauses), parsed.typed, parsed.from_synonym)


def to_tsquery(parsed: ParsedQuery, *, any_clause: bool = False) -> str:
    """PostgreSQL to_tsquery() syntax; terms are letters and digits only, nothing to escape."""
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

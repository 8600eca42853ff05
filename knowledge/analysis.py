"""Text analysis shared by both search backends, so SQLite and PostgreSQL index and query
the same terms: lower case, accents folded, stems of the text's language (Snowball: the
same algorithms as PostgreSQL's 'english' and 'german' configurations), English irregular
forms mapped to one word, hyphenated compounds indexed joined as well as in parts.

Pure logic (no Django). The backends store the analysed text (FTS5 with a plain unicode61
tokenizer; PostgreSQL tsvectors built with the 'simple' configuration), so neither
database's own stemmer decides what matches.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

# A word, with hyphen- or apostrophe-joined parts kept together ("e-mail", "can't").
# Underscores split words, as they do in FTS5's unicode61 tokenizer.
WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")
PART = re.compile(r"[^\W_]+")

STOPWORDS = frozenset("""
a about after again all am an and any are as at be been before being but by can cannot
cant could couldn couldnt did didn didnt do does doesn doesnt doing don dont for from had
has have having he her here hers him his how i if im in into is isn isnt it its itself ive
just me more most my myself no nor not of off on once only or other our ours out over own
please same she should so some such than that the their them then there these they this
those through to too under until up very was wasn wasnt we were what whats when where
which while who whom why will with won wont would you your yours yourself hi hello thanks
thank get got getting help s t ll ve re d m
""".split())

# Irregular forms the stemmer cannot join to their base word.
IRREGULAR = {
    "forgot": "forget", "forgotten": "forget", "forgetting": "forget",
    "lost": "lose", "losing": "lose", "paid": "pay", "sent": "send", "bought": "buy",
    "broke": "break", "broken": "break", "chose": "choose", "chosen": "choose",
    "made": "make", "took": "take", "taken": "take", "wrote": "write", "written": "write",
    "saw": "see", "seen": "see", "spent": "spend", "left": "leave", "ran": "run",
    "began": "begin", "begun": "begin", "gave": "give", "given": "give", "kept": "keep",
    "froze": "freeze", "frozen": "freeze", "hid": "hide", "hidden": "hide", "went": "go",
    "gone": "go", "stole": "steal", "stolen": "steal", "did": "do", "done": "do",
    "knew": "know", "known": "know", "shown": "show", "felt": "feel", "held": "hold",
    "logged": "log", "logging": "log",
}

# Phrasal verbs are also indexed as one word ("signed out" -> "signout"), so "sign out"
# and "sign in" differ although "in" and "out" are stop words.
PHRASAL_VERBS = frozenset("sign log set check opt back roll clean lock turn switch".split())
PARTICLES = frozenset("in on out up off".split())

GERMAN_STOPWORDS = frozenset("""
aber alle allem allen aller alles als also am an ander andere anderem anderen anderer
anderes auch auf aus bei bin bis bist da damit dann das dass dein deine dem den denn der
des dich die dies diese diesem diesen dieser dieses dir doch dort du durch ein eine einem
einen einer eines er es etwas euch euer eure fur hab habe haben hat hatte hatten hier hin
hinter ich ihm ihn ihnen ihr ihre im in ist ja jede jedem jeden jeder jedes kann kein
keine keinem keinen keiner mein meine mich mir mit muss nach nicht nichts noch nun nur
ob oder ohne sehr sein seine sich sie sind so soll sollte sondern um und uns unser unter
viel vom von vor war waren warum was weil welche wenn wer werde werden wie wieder will
wir wird wo zu zum zur uber hallo danke bitte
""".split())

# The analysis of each language the help center ships; any other falls back to English.
STEMMERS = {"en": snowballstemmer.stemmer("english"), "de": snowballstemmer.stemmer("german")}
STOPWORDS_OF = {"en": STOPWORDS, "de": GERMAN_STOPWORDS}
DEFAULT = "en"


def language_of(code: str | None) -> str:
    """The analysis for a language code: "de-at" -> "de"; unknown ones -> English."""
    base = (code or DEFAULT).split("-")[0].lower()
    return base if base in STEMMERS else DEFAULT


def stopwords(language: str = DEFAULT) -> frozenset[str]:
    return STOPWORDS_OF[language_of(language)]


def fold(text: str) -> str:
    """Lower case without accents: "Français" -> "francais"."""
    decomposed = unicodedata.normalize("NFKD", (text or "").lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=200_000)
def stem(word: str, language: str = DEFAULT) -> str:
    """The indexed form of one folded word (memoised: the pure-Python stemmer is slow)."""
    language = language_of(language)
    if language == "en":
        word = IRREGULAR.get(word, word)
    return STEMMERS[language].stemWord(word) if word.isalpha() else word


def words(text: str) -> list[str]:
    """Folded words and compounds as typed: "E-mail änderen" -> ["e-mail", "anderen"]."""
    return WORD.findall(fold(text))


def parts(word: str) -> list[str]:
    """The parts of a compound, apostrophe endings dropped: "can't" -> ["can"]."""
    found = PART.findall(word)
    if "'" in word or "’" in word:
        found = [found[0]] + [p for p in found[1:] if len(p) > 2]
    return found


def joined(word: str) -> str:
    """A compound written as one word: "e-mail" -> "email", "sign-in" -> "signin"."""
    return "".join(parts(word))


def index_terms(text: str, language: str = DEFAULT) -> list[str]:
    """The terms an article's text is indexed under: stems of every meaningful word, and
    for a compound the stem of its joined form too, so "email" finds "e-mail"."""
    out: list[str] = []
    found = words(text)
    stop = stopwords(language)
    for n, word in enumerate(found):
        pieces = parts(word)
        for piece in pieces:
            if piece not in stop and len(piece) > 1:
                out.append(stem(piece, language))
        if len(pieces) > 1 and "-" in word:
            out.append(stem("".join(pieces), language))
        elif phrasal := phrasal_verb(word, found[n + 1] if n + 1 < len(found) else "",
                                     language):
            out.append(phrasal)
    return out


def phrasal_verb(word: str, following: str, language: str = DEFAULT) -> str:
    """"signed" + "out" -> "signout"; "" when the two words are not a phrasal verb."""
    if language_of(language) != "en":
        return ""
    if following in PARTICLES and stem(word) in PHRASAL_VERBS:
        return stem(word) + following
    return ""


def index_text(text: str, language: str = DEFAULT) -> str:
    return " ".join(index_terms(text, language))


def vocabulary(text: str, language: str = DEFAULT) -> set[str]:
    """Surface words worth offering as a spelling correction (joined compounds included)."""
    found: set[str] = set()
    stop = stopwords(language)
    for word in words(text):
        pieces = parts(word)
        found.update(p for p in pieces if len(p) > 2 and p not in stop and p.isalpha())
        if len(pieces) > 1 and "-" in word:
            found.add("".join(pieces))
    return {w for w in found if len(w) <= 40}


def edit_distance(a: str, b: str, limit: int = 2) -> int:
    """Damerau-Levenshtein distance (adjacent swaps count one), or limit + 1 when over it."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def allowed_typos(word: str) -> int:
    """Words of four to seven letters tolerate one typo, longer ones two, shorter none."""
    return 0 if len(word) < 4 else 1 if len(word) < 8 else 2


def deletes(word: str, depth: int) -> set[str]:
    """Every string made by deleting up to `depth` letters (symmetric-delete spelling)."""
    found = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1:] for w in frontier for i in range(len(w)) if len(w) > 1}
        found |= frontier
    return found

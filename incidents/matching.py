"""Keyword matching of new tickets against open incidents (pure Python)."""
from __future__ import annotations

import re
from collections.abc import Iterable

_WORD = re.compile(r"[\w-]+", re.UNICODE)


def parse_keywords(raw: str) -> list[str]:
    """Comma-separated keywords or phrases, lower-cased, blanks and duplicates dropped."""
    seen: list[str] = []
    for part in (raw or "").split(","):
        kw = " ".join(part.lower().split())
        if len(kw) >= 3 and kw not in seen:
            seen.append(kw)
    return seen


def matches(keywords: Iterable[str], text: str) -> list[str]:
    """The keywords found in `text` as whole words (a phrase: its words in sequence)."""
    words = " ".join(_WORD.findall((text or "").lower()))
    padded = f" {words} "
    found = []
    for kw in keywords:
        normal = " ".join(_WORD.findall(kw.lower()))
        if normal and f" {normal} " in padded:
            found.append(kw)
    return found

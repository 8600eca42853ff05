"""Rendering notices (customer e-mails, staff notifications) from editable templates.

One syntax for every notice: `{{ placeholder }}`, the same as macros. Values are plain
strings (escaped in the HTML body) or `Block`s, pre-rendered text with its safe HTML
(a reply's sanitised Markdown, a list of tickets). Unknown placeholders stay as written,
so a typo in the admin shows in the preview instead of vanishing.

Lookup order: the team's active `NoticeTemplate`, the global one, then the shipped
default `templates/notices/<key>.subject.txt`, `<key>.txt` and optional `<key>.html`.
The shipped defaults exist per language: `templates/notices/<lang>/<key>...` is read for
a recipient of that language (the caller renders inside `translation.override`), the
English files for any other.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db.models import Q
from django.utils import translation
from django.utils.html import escape, linebreaks
from django.utils.safestring import SafeString

from .models import NoticeTemplate

PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
DEFAULTS_DIR = Path(settings.BASE_DIR) / "templates" / "notices"


@dataclass(frozen=True)
class Block:
    """A value with a plain-text and an (already safe) HTML form."""

    text: str
    html: str


@dataclass(frozen=True)
class RenderedNotice:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Wording:
    subject: str
    body_text: str
    body_html: str


class UnknownNotice(LookupError):
    """No template and no shipped default for this key."""


def _language_dir(language: str | None) -> Path:
    code = (language or translation.get_language() or "").split("-")[0].lower()
    folder = DEFAULTS_DIR / code
    return folder if code.isalpha() and folder.is_dir() else DEFAULTS_DIR


def default_wording(key: str, language: str | None = None) -> Wording:
    """The shipped wording of `key` in `language` (default: the active one), else English."""
    base = _language_dir(language) / key
    if not base.with_name(f"{key}.subject.txt").exists():
        base = DEFAULTS_DIR / key
    subject_path = base.with_name(f"{key}.subject.txt")
    text_path = base.with_name(f"{key}.txt")
    if not subject_path.exists() or not text_path.exists():
        raise UnknownNotice(key)
    html_path = base.with_name(f"{key}.html")
    return Wording(
        subject=subject_path.read_text().strip(),
        body_text=text_path.read_text(),
        body_html=html_path.read_text() if html_path.exists() else "",
    )


def default_keys() -> list[str]:
    return sorted(p.name.removesuffix(".subject.txt")
                  for p in DEFAULTS_DIR.glob("*.subject.txt"))


def wording_for(key: str, team_id: int | None = None, language: str | None = None) -> Wording:
    """An edited wording (the team's, else the global one) wins in every language: the
    team wrote it for its customers; otherwise the shipped default in `language`."""
    scope = Q(team__isnull=True) | Q(team_id=team_id) if team_id else Q(team__isnull=True)
    rows = {row.team_id: row for row in
            NoticeTemplate.objects.filter(scope, key=key, is_active=True)}
    row = rows.get(team_id) or rows.get(None)
    if row is not None:
        return Wording(row.subject, row.body_text, row.body_html)
    return default_wording(key, language)


def _fill(template: str, values: Mapping[str, str | Block], *, html: bool) -> str:
    def value(match: re.Match[str]) -> str:
        found = values.get(match.group(1))
        if found is None:
            return match.group(0)
        if isinstance(found, Block):
            return found.html if html else found.text
        return escape(found) if html else str(found)
    return PLACEHOLDER.sub(value, template)


def render_wording(wording: Wording, values: Mapping[str, str | Block]) -> RenderedNotice:
    subject = " ".join(_fill(wording.subject, values, html=False).split())
    text = _fill(wording.body_text, values, html=False)
    if wording.body_html.strip():
        html = _fill(wording.body_html, values, html=True)
    else:
        # Built from the text template, so Blocks keep their own HTML.
        html = "".join(
            str(v.html) if isinstance(v, Block) else str(linebreaks(v, autoescape=True))
            for v in _split_blocks(wording.body_text, values)
        )
    return RenderedNotice(subject=subject[:250], text=text, html=SafeString(html))


def _split_blocks(template: str, values: Mapping[str, str | Block]) -> list[str | Block]:
    """The text template cut at Block placeholders: escaped prose between safe blocks."""
    parts: list[str | Block] = []
    last = 0
    for match in PLACEHOLDER.finditer(template):
        found = values.get(match.group(1))
        if isinstance(found, Block):
            parts.append(_fill(template[last:match.start()], values, html=False))
            parts.append(found)
            last = match.end()
    parts.append(_fill(template[last:], values, html=False))
    return [p for p in parts if isinstance(p, Block) or p.strip()]


def render_notice(key: str, values: Mapping[str, str | Block], *,
                  team_id: int | None = None) -> RenderedNotice:
    """The notice `key` for a ticket of `team_id`, filled with `values`."""
    return render_wording(wording_for(key, team_id), values)

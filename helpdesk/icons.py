"""Icons: a vendored subset of Lucide (static/icons/lucide, ISC licence), inlined as SVG.

Inline, so an icon costs no request and no web font; `currentColor` follows the text.
Each file is read once per process.
"""
from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from django.conf import settings
from markupsafe import Markup

ICON_DIR = Path(settings.BASE_DIR) / "static" / "icons" / "lucide"
_INNER = re.compile(r"<svg[^>]*>(.*)</svg>", re.S)


@cache
def _inner(name: str) -> str:
    text = (ICON_DIR / f"{name}.svg").read_text(encoding="utf-8")
    match = _INNER.search(text)
    if match is None:
        raise ValueError(f"{name}.svg holds no <svg> element")
    return " ".join(match.group(1).split())


def icon(name: str, label: str = "", size: int = 18) -> Markup:
    """The icon `name`; decorative (hidden from screen readers) unless given a `label`."""
    a11y = f'role="img" aria-label="{Markup.escape(label)}"' if label else 'aria-hidden="true"'
    return Markup(  # noqa: S704 - vendored file content, the label is escaped
        f'<svg class="icon icon-{name}" {a11y} focusable="false" width="{int(size)}" '
        f'height="{int(size)}" viewBox="0 0 24 24" fill="none" stroke="currentColor" '
        f'stroke-width="2" stroke-linecap="round" stroke-linejoin="round">'
        f"{_inner(name)}</svg>"
    )

"""Safe rendering of Markdown and outside HTML: Markdown without raw HTML, then nh3."""
from __future__ import annotations

from functools import lru_cache

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True}).enable(
    ["table", "strikethrough"]
)

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4",
    "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s", "strong", "sub", "sup",
    "table", "tbody", "td", "th", "thead", "tr", "ul", "span", "div",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "td": {"align"},
    "th": {"align"},
}


def sanitize_html(html: str) -> str:
    """Strip scripts, event handlers and unsafe URLs from HTML that came from outside."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


@lru_cache(maxsize=4096)
def _render(text: str) -> str:
    return sanitize_html(_md.render(text))


def render_markdown(text: str) -> SafeString:
    """Markdown to sanitised HTML. Messages never change and conversations refresh every
    few seconds, so results are memoised by content (bounded, per process)."""
    return mark_safe(_render(text or ""))  # noqa: S308 - sanitised above

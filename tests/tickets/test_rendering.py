"""Outside content is rendered safely: Markdown without raw HTML, sanitised links."""
from html.parser import HTMLParser

import pytest

from tickets.rendering import render_markdown, sanitize_html

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "<iframe src=//evil.example></iframe>",
    '<svg onload="alert(1)"></svg>',
    "![x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<div style="background:url(javascript:alert(1))">x</div>',
]


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def active_content(html):
    """Every tag or attribute in `html` that could run code or load a foreign document."""
    parser = _Collector()
    parser.feed(html)
    found = []
    for tag, attrs in parser.tags:
        if tag in {"script", "iframe", "svg", "object", "embed", "style", "form"}:
            found.append(tag)
        for name, value in attrs.items():
            if name.startswith("on") or name == "style":
                found.append(f"{tag}@{name}")
            if name in {"href", "src"} and (value or "").strip().lower().startswith(
                    ("javascript:", "data:", "vbscript:")):
                found.append(f"{tag}@{name}={value}")
    return found


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_markdown_renders_inert(payload):
    assert active_content(render_markdown(payload)) == []


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_html_is_sanitised(payload):
    assert active_content(sanitize_html(payload)) == []


def test_markdown_keeps_formatting_and_marks_links_nofollow():
    html = render_markdown("**Steps**\n\n1. Open [docs](https://docs.example.com)\n\n`code`")
    assert "<strong>Steps</strong>" in html
    assert "<ol>" in html and "<code>code</code>" in html
    assert 'href="https://docs.example.com"' in html
    assert "nofollow" in html


def test_outside_html_is_sanitised_but_keeps_text():
    html = sanitize_html('<p onclick="x()">Hello <b>there</b><script>bad()</script></p>')
    assert html == "<p>Hello <b>there</b></p>"

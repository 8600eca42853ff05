"""The one pager keeps every other query parameter (filters, sort) and its path."""
from django.core.paginator import Paginator
from django.template.loader import render_to_string
from django.test import RequestFactory


def _render(url: str, page: int, **extra) -> str:
    request = RequestFactory().get(url)
    return render_to_string("includes/pager.html", {
        "page": Paginator(range(100), 10).get_page(page), **extra}, request=request)


def test_links_keep_filters_and_path():
    html = _render("/qa/queue/?agent=7&status=open&page=3", 3)
    assert 'href="/qa/queue/?agent=7&amp;status=open&amp;page=2" rel="prev"' in html
    assert 'href="/qa/queue/?agent=7&amp;status=open&amp;page=4" rel="next"' in html
    assert "Page 3 of 10" in html


def test_first_and_last_pages_and_options():
    first = _render("/x/", 1, counted="100 tickets", label="Pages of the log", newer_older=True)
    assert 'rel="prev"' not in first and "Older →" in first
    assert "· 100 tickets" in first and 'aria-label="Pages of the log"' in first
    assert 'rel="next"' not in _render("/x/?page=10", 10)


def test_single_page_renders_nothing():
    request = RequestFactory().get("/x/")
    html = render_to_string("includes/pager.html", {
        "page": Paginator(range(5), 10).get_page(1)}, request=request)
    assert "<nav" not in html

"""Relevance of help-center search on the queries customers type (issue #29).

The data is tests/knowledge/relevance.toml: the demo's articles plus some of our own, and
queries written as customers write them, each naming the article it should find. Runs on
SQLite (FTS5) and PostgreSQL alike; `pytest -s` prints the figures and every miss.
"""
from __future__ import annotations

import io
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.db import connection

from knowledge import demo, search
from knowledge.models import Article, Audience

from .conftest import publish

DATA = tomllib.loads(Path(__file__).with_name("relevance.toml").read_text(encoding="utf-8"))
CUSTOMER = (Audience.PUBLIC, Audience.CUSTOMERS)


@dataclass
class Figures:
    total: int = 0
    top3: int = 0
    empty: int = 0
    misses: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (f"{connection.vendor}: top-3 {self.top3}/{self.total} "
                f"({100 * self.top3 / self.total:.1f} %), empty {self.empty}")


@pytest.fixture
def corpus(db):
    demo.seed_demo(io.StringIO())
    for item in DATA["article"]:
        article = publish(item["title"], summary=item["summary"], body=item["body"],
                          audience=item.get("audience", Audience.PUBLIC))
        Article.objects.filter(pk=article.pk).update(slug=item["slug"])
    search.forget_synonyms()


def evaluate() -> Figures:
    figures = Figures()
    for case in DATA["query"]:
        slugs = [h.slug for h in search.search(case["q"], audiences=CUSTOMER).hits]
        figures.total += 1
        if case["expect"] in slugs[:3]:
            figures.top3 += 1
        else:
            figures.misses.append(f"{case['q']!r} -> {slugs[:3]} (want {case['expect']})")
        figures.empty += not slugs
    return figures


def test_the_set_is_big_enough_and_names_real_articles(corpus):
    assert len(DATA["query"]) >= 60
    known = set(Article.objects.values_list("slug", flat=True))
    assert {case["expect"] for case in DATA["query"]} <= known


def test_customers_find_the_right_article_in_the_top_three(corpus):
    figures = evaluate()
    print(f"\nrelevance {figures}")
    for miss in figures.misses:
        print("  miss:", miss)
    assert figures.empty == 0
    assert figures.top3 / figures.total >= 0.95

"""The demo help center: a dozen articles (one internal), synonyms, idempotent seeding."""
from __future__ import annotations

import io

from knowledge import search
from knowledge.demo import seed_demo
from knowledge.models import Article, Audience, Synonym


def test_demo_seeds_once_and_is_searchable(db):
    seed_demo(io.StringIO())
    seed_demo(io.StringIO())
    assert Article.objects.count() == 12
    assert Article.objects.filter(audience=Audience.INTERNAL).count() == 1
    assert Synonym.objects.filter(terms__contains="sign in").count() == 1
    found = [h.title for h in search.search("login", audiences=(Audience.PUBLIC,)).hits]
    assert "Sign in with single sign-on (SSO)" in found
    assert "Refund override runbook (internal)" not in [
        h.title for h in search.search("refund", audiences=(Audience.PUBLIC,)).hits]

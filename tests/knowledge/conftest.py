"""Fixtures of the knowledge tests: articles built through the services."""
from __future__ import annotations

import pytest

from helpdesk.roles import Role
from knowledge import services
from knowledge.models import Audience, Synonym
from knowledge.search import forget_synonyms
from tests.factories import make_user


def publish(title: str, *, summary: str = "", body: str = "", audience: str = Audience.PUBLIC,
            author=None, **kwargs):
    article = services.create_article(title=title, author=author, summary=summary, body=body,
                                      audience=audience, **kwargs)
    return services.publish(article, actor=None)


@pytest.fixture
def writer(l1):
    """A team lead: writes and publishes articles, reads the dashboard."""
    return make_user(Role.TEAM_LEAD, teams=(l1,), username="wendy")


@pytest.fixture
def synonyms(db):
    Synonym.objects.create(terms="sign in, login, log in")
    forget_synonyms()
    yield
    forget_synonyms()

"""Articles: templates, versions (a published article stays online while edited), review
dates and the freshness reminder, publishing rights."""
from __future__ import annotations

from datetime import date

import pytest
import time_machine
from django.core.exceptions import PermissionDenied

from helpdesk.models import Notification
from knowledge import selectors, services
from knowledge.models import ArticleEventKind, ArticleStatus, ArticleTemplate, Section, VersionState

from .conftest import publish


def test_new_troubleshooting_article_starts_from_its_template(writer):
    article = services.create_article(title="Sync stops", author=writer,
                                      template=ArticleTemplate.TROUBLESHOOTING)
    assert "## Problem" in article.body and "## Cause" in article.body
    assert "## Solution" in article.body
    assert article.status == ArticleStatus.DRAFT and article.owner == writer
    howto = services.create_article(title="Invite a colleague", author=writer,
                                    template=ArticleTemplate.HOWTO)
    assert "## Steps" in howto.body


def test_published_article_stays_online_while_a_draft_is_edited(writer, client):
    article = publish("Change your plan", summary="Billing > Plan.", body="Old steps.")
    services.save_draft(article, author=writer, title="Change your subscription",
                        summary="Settings > Subscription.", body="New steps.")
    article.refresh_from_db()
    assert article.status == ArticleStatus.PUBLISHED
    page = client.get(article.get_absolute_url())
    assert page.status_code == 200
    assert "Old steps." in page.content.decode()
    assert "New steps." not in page.content.decode()

    services.publish(article, actor=writer)
    article.refresh_from_db()
    assert (article.title, article.body) == ("Change your subscription", "New steps.")
    assert "New steps." in client.get(article.get_absolute_url()).content.decode()
    states = list(article.versions.order_by("number").values_list("number", "state"))
    assert states == [(1, VersionState.SUPERSEDED), (2, VersionState.PUBLISHED)]


def test_publishing_and_archiving_record_who_did_it(writer):
    article = services.create_article(title="Reset two-factor", author=writer)
    services.publish(article, actor=writer)
    services.archive(article, actor=writer)
    events = list(article.events.values_list("kind", "actor_id"))
    assert events == [(ArticleEventKind.PUBLISHED, writer.pk),
                      (ArticleEventKind.ARCHIVED, writer.pk)]
    assert article.events.first().version.number == 1


def test_an_agent_cannot_publish(agent):
    article = services.create_article(title="Draft by an agent", author=agent)
    with pytest.raises(PermissionDenied):
        services.publish(article, actor=agent)
    assert not article.events.exists()


def test_sections_nest_at_most_three_levels(db):
    from django.core.exceptions import ValidationError

    a = Section.objects.create(name="A", slug="a")
    b = Section.objects.create(name="B", slug="b", parent=a)
    c = Section.objects.create(name="C", slug="c", parent=b)
    d = Section(name="D", slug="d", parent=c)
    with pytest.raises(ValidationError):
        d.full_clean()


def test_overdue_articles_are_listed_for_their_owner_and_reminded_weekly(writer, lead):
    with time_machine.travel("2026-01-05 09:00Z"):
        fresh = publish("Fresh article", owner=writer)
        stale = publish("Stale article", owner=writer)
        other = publish("Someone else's", owner=lead)
    stale.review_interval_days = 30
    stale.save()
    other.review_interval_days = 30
    other.save()
    with time_machine.travel("2026-03-02 08:00Z"):  # a Monday, 56 days later
        mine = list(selectors.overdue_articles(owner=writer))
        assert mine == [stale]
        assert fresh not in mine
        assert services.send_review_reminders() == 2
        assert services.send_review_reminders() == 2  # rerun: same dedupe keys
        notes = Notification.objects.filter(source="knowledge.freshness")
        assert notes.count() == 2
        assert "Stale article" in notes.get(recipient=writer).body
    with time_machine.travel("2026-03-02 09:00Z"):
        services.mark_reviewed(stale, actor=writer)
        assert list(selectors.overdue_articles(owner=writer)) == []
        stale.refresh_from_db()
        assert stale.review_due_on == date(2026, 4, 1)


def test_freshness_page_lists_my_overdue_articles(writer, client):
    with time_machine.travel("2025-01-01 09:00Z"):
        publish("Ancient article", owner=writer)
    client.force_login(writer)
    page = client.get("/help/manage/freshness/")
    assert page.status_code == 200
    assert "Ancient article" in page.content.decode()

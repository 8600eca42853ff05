"""Sitemap of the help center: public, published articles only."""
from __future__ import annotations

from django.contrib.sitemaps import Sitemap
from django.db.models import QuerySet

from .models import Article, ArticleStatus, Audience


class ArticleSitemap(Sitemap):
    changefreq = "weekly"
    limit = 5000

    def items(self) -> QuerySet[Article]:
        return (Article.objects.filter(status=ArticleStatus.PUBLISHED, audience=Audience.PUBLIC)
                .only("slug", "updated_at").order_by("id"))

    def lastmod(self, obj: Article):
        return obj.updated_at

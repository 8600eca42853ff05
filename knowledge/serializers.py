"""API shapes of the knowledge app."""
from __future__ import annotations

from rest_framework import serializers

from .models import Article


class ArticleListSerializer(serializers.ModelSerializer):
    url = serializers.CharField(source="get_absolute_url", read_only=True)

    class Meta:
        model = Article
        fields = ["id", "slug", "title", "summary", "audience", "url", "updated_at"]


class ArticleSerializer(ArticleListSerializer):
    section = serializers.CharField(source="section.name", default=None, read_only=True,
                                    allow_null=True,
                                    help_text="Null when the article is in no section.")

    class Meta(ArticleListSerializer.Meta):
        fields = [*ArticleListSerializer.Meta.fields, "body", "tags", "section",
                  "helpful_count", "unhelpful_count", "published_at"]


class SearchHitSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    title = serializers.CharField()
    summary = serializers.CharField()
    snippet = serializers.CharField(help_text="HTML-safe: escaped text with <mark> around matches.")
    score = serializers.FloatField()

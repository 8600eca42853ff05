"""Admin for the knowledge base: sections, articles (saved through the services so the
search index follows), synonyms, and read-only analytics."""
from __future__ import annotations

from django.contrib import admin

from . import search
from .models import (
    Article,
    ArticleFlag,
    ArticleVersion,
    ArticleVote,
    SearchLog,
    Section,
    Synonym,
    Visit,
)


@admin.register(Section)
class SectionAdmin(admin.ModelAdmin):
    list_display = ("name", "parent", "position")
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ("name",)


class VersionInline(admin.TabularInline):
    model = ArticleVersion
    extra = 0
    fields = ("number", "state", "title", "author", "created_at", "published_at")
    readonly_fields = fields
    can_delete = False
    show_change_link = False


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ("title", "status", "audience", "section", "owner", "review_due_on",
                    "view_count", "helpful_count", "unhelpful_count")
    list_filter = ("status", "audience", "language", "section", "template")
    search_fields = ("title", "slug")
    list_select_related = ("section", "owner")
    autocomplete_fields = ("related",)
    raw_id_fields = ("owner", "created_from_ticket", "translation_of")
    readonly_fields = ("view_count", "helpful_count", "unhelpful_count", "review_due_on",
                       "published_at", "created_at", "updated_at")
    inlines = [VersionInline]

    def save_model(self, request, obj, form, change):
        from django.utils import timezone

        now = timezone.now()
        obj.updated_at = now
        if not obj.created_at:
            obj.created_at = now
        super().save_model(request, obj, form, change)
        search.index_article([obj.pk])


@admin.register(Synonym)
class SynonymAdmin(admin.ModelAdmin):
    list_display = ("terms",)
    search_fields = ("terms",)


@admin.register(ArticleFlag)
class ArticleFlagAdmin(admin.ModelAdmin):
    list_display = ("article", "kind", "reporter", "ticket", "created_at", "resolved_at")
    list_filter = ("kind",)
    raw_id_fields = ("article", "ticket", "reporter")


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SearchLog)
class SearchLogAdmin(ReadOnlyAdmin):
    list_display = ("query", "source", "result_count", "clicked_article", "refined_to",
                    "ticket_followed", "created_at")
    list_filter = ("source", "ticket_followed")
    raw_id_fields = ("visit", "clicked_article")
    show_full_result_count = False


@admin.register(Visit)
class VisitAdmin(ReadOnlyAdmin):
    list_display = ("key", "user", "started_at", "first_query", "article_views",
                    "solved_at", "ticket")
    raw_id_fields = ("user", "solved_article", "ticket")
    show_full_result_count = False


@admin.register(ArticleVote)
class ArticleVoteAdmin(ReadOnlyAdmin):
    list_display = ("article", "helpful", "reason", "created_at")
    list_filter = ("helpful", "reason")
    raw_id_fields = ("article", "visit", "user")

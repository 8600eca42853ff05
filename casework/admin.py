"""Admin of technical casework: playbooks are configured here; the rest is read mostly."""
from __future__ import annotations

from django.contrib import admin

from .models import (
    AtRiskAlert,
    EngineeringLink,
    Evidence,
    FeedbackItem,
    FeedbackMention,
    Investigation,
    InvestigationRevision,
    Playbook,
    PlaybookStep,
    VocReport,
)


class PlaybookStepInline(admin.TabularInline):
    model = PlaybookStep
    extra = 1


@admin.register(Playbook)
class PlaybookAdmin(admin.ModelAdmin):
    list_display = ("name", "is_active", "source_ticket", "created_at")
    list_filter = ("is_active", "categories", "product_areas")
    search_fields = ("name",)
    filter_horizontal = ("categories", "product_areas")
    inlines = [PlaybookStepInline]
    raw_id_fields = ("source_ticket", "created_by")

    def save_model(self, request, obj, form, change) -> None:  # type: ignore[no-untyped-def]
        from django.utils import timezone

        if not obj.created_at:
            obj.created_at = timezone.now()
        if not obj.created_by_id:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class EvidenceInline(admin.TabularInline):
    model = Evidence
    extra = 0
    raw_id_fields = ("attachment", "added_by", "verified_by")


@admin.register(Investigation)
class InvestigationAdmin(admin.ModelAdmin):
    list_display = ("ticket", "decision", "first_evidence_seconds", "updated_at")
    list_filter = ("decision",)
    raw_id_fields = ("ticket", "updated_by")
    inlines = [EvidenceInline]


@admin.register(InvestigationRevision)
class InvestigationRevisionAdmin(admin.ModelAdmin):
    list_display = ("investigation", "author", "created_at")
    raw_id_fields = ("investigation", "author")

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(EngineeringLink)
class EngineeringLinkAdmin(admin.ModelAdmin):
    list_display = ("key", "tracker", "status", "ticket", "synced_at")
    list_filter = ("tracker",)
    search_fields = ("key",)
    raw_id_fields = ("ticket", "created_by")


class FeedbackMentionInline(admin.TabularInline):
    model = FeedbackMention
    extra = 0
    raw_id_fields = ("ticket", "organization", "added_by")


@admin.register(FeedbackItem)
class FeedbackItemAdmin(admin.ModelAdmin):
    list_display = ("title", "kind", "created_at")
    list_filter = ("kind",)
    search_fields = ("title", "key")
    inlines = [FeedbackMentionInline]


@admin.register(AtRiskAlert)
class AtRiskAlertAdmin(admin.ModelAdmin):
    list_display = ("organization", "signal", "period", "notified", "created_at")
    list_filter = ("signal",)
    raw_id_fields = ("organization", "ticket", "notified")


@admin.register(VocReport)
class VocReportAdmin(admin.ModelAdmin):
    list_display = ("week_start", "generated_at")

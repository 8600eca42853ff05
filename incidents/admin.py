"""Admin: severities with their escalation path (configurable), incidents and reviews
(read-mostly: changes go through the war room so they are recorded on the timeline)."""
from __future__ import annotations

from django.contrib import admin

from .models import (
    ActionItem,
    EscalationStep,
    Incident,
    IncidentRole,
    PublicUpdate,
    Review,
    Severity,
    TimelineEntry,
    UpdateDelivery,
)


class EscalationStepInline(admin.TabularInline):
    model = EscalationStep
    extra = 1
    fields = ("after_minutes", "label", "target", "rotation", "user", "role", "channels")
    autocomplete_fields = ("user",)


@admin.register(Severity)
class SeverityAdmin(admin.ModelAdmin):
    list_display = ("__str__", "response_minutes", "update_every_minutes", "review_required")
    inlines = [EscalationStepInline]


class RoleInline(admin.TabularInline):
    model = IncidentRole
    extra = 0
    readonly_fields = ("role", "user", "assigned_at")
    can_delete = False


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ("reference", "title", "severity", "status", "declared_at", "resolved_at")
    list_filter = ("status", "severity")
    search_fields = ("title", "keywords")
    list_select_related = ("severity",)
    readonly_fields = ("suggested_level", "severity", "status", "declared_by", "declared_at",
                       "resolved_at", "resolve_tickets_to", "next_update_due_at",
                       "next_escalation_at", "next_review_reminder_at")
    fields = ("title", "description", "keywords", "is_public", "users_affected", "impact",
              *readonly_fields, "severity_reason")
    inlines = [RoleInline]


@admin.register(TimelineEntry)
class TimelineEntryAdmin(admin.ModelAdmin):
    list_display = ("incident", "created_at", "kind", "author")
    list_filter = ("kind",)
    list_select_related = ("incident", "author")
    readonly_fields = ("incident", "kind", "body", "author", "created_at")

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(PublicUpdate)
class PublicUpdateAdmin(admin.ModelAdmin):
    list_display = ("incident", "kind", "status", "created_at", "fanout_completed_at")
    list_select_related = ("incident",)
    readonly_fields = ("incident", "kind", "status", "created_by", "created_at",
                       "fanout_completed_at")


@admin.register(UpdateDelivery)
class UpdateDeliveryAdmin(admin.ModelAdmin):
    list_display = ("update", "ticket", "message_id", "skipped", "created_at")
    raw_id_fields = ("update", "ticket")
    readonly_fields = ("update", "ticket", "message_id", "skipped", "created_at")


class ActionInline(admin.TabularInline):
    model = ActionItem
    extra = 0
    fields = ("title", "owner", "due_date", "state", "completed_at")
    autocomplete_fields = ("owner",)


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ("incident", "created_at", "completed_at")
    list_select_related = ("incident",)
    autocomplete_fields = ("author",)  # not a <select> of every user
    inlines = [ActionInline]

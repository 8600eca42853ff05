"""Admin of retention policies and legal holds; privacy requests are shown, never edited."""
from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from helpdesk.admin_base import ReadOnlyAdmin

from .models import LegalHold, PrivacyRequest, RetentionPolicy, RetentionRun


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(admin.ModelAdmin):
    list_display = ("__str__", "raw_email_days", "attachment_days", "closed_ticket_days")
    list_select_related = ("organization",)
    autocomplete_fields = ("organization",)


@admin.register(LegalHold)
class LegalHoldAdmin(admin.ModelAdmin):
    list_display = ("__str__", "placed_at", "released_at")
    list_select_related = ("organization", "ticket")
    list_filter = ("released_at",)
    raw_id_fields = ("ticket", "placed_by")
    autocomplete_fields = ("organization",)

    def save_model(self, request: HttpRequest, obj: LegalHold, form, change: bool) -> None:
        if not change and obj.placed_by_id is None:
            obj.placed_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(PrivacyRequest)
class PrivacyRequestAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "state", "progress", "created_at", "finished_at")
    list_filter = ("kind", "state")
    exclude = ("file",)


@admin.register(RetentionRun)
class RetentionRunAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "dry_run", "raw_emails", "attachments", "tickets")

"""The audit log in the admin: read-only for everyone, superusers included.

Registered from HelpdeskConfig.ready() rather than admin.py so that the log's
registration stays next to the machinery that writes it.
"""
from __future__ import annotations

from django.contrib import admin

from .admin_base import ReadOnlyAdmin
from .models import AuditEntry


class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("at", "actor_label", "action", "model", "object_id", "object_repr")
    list_filter = ("action", "model", "at")
    search_fields = ("=object_id", "=model")
    readonly_fields = ("at", "actor", "actor_label", "action", "model", "object_id",
                       "object_repr", "changes")
    date_hierarchy = "at"
    show_full_result_count = False


def register() -> None:
    if not admin.site.is_registered(AuditEntry):
        admin.site.register(AuditEntry, AuditEntryAdmin)

"""Imports in the admin: every run with its counts and the rows it could not import."""
from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import ImportProblem, ImportRun


class ProblemInline(admin.TabularInline):
    model = ImportProblem
    fields = ("kind", "source_key", "ticket_key", "reason", "detail")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    """Read-only: runs are written by the import commands only."""

    list_display = ("source", "started_at", "finished_at", "status", "problem_count")
    list_filter = ("status", "source")
    fields = ("source", "started_at", "finished_at", "status", "counts", "error")
    readonly_fields = fields
    inlines = [ProblemInline]

    @admin.display(description=_("rows not imported"))
    def problem_count(self, run: ImportRun) -> int:
        return run.problems.count()

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

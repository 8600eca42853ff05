"""Admin of the metrics rollup: read-only, for audit."""
from django.contrib import admin

from tickets.admin import ReadOnlyRecordAdmin

from .models import MetricsHour, MetricsRollupState


@admin.register(MetricsHour)
class MetricsHourAdmin(ReadOnlyRecordAdmin):
    """The manager dashboard's hourly rollup: written by Celery, shown for audit only."""

    list_display = ("hour", "team_id", "created", "resolved", "responses", "sla_met",
                    "sla_breached", "backlog", "refreshed_at")
    list_filter = ("team_id",)
    date_hierarchy = "hour"
    show_full_result_count = False


@admin.register(MetricsRollupState)
class MetricsRollupStateAdmin(ReadOnlyRecordAdmin):
    list_display = ("covered_from", "covered_to", "synced_at", "rebuilt_at")

"""Admin for workforce: capacity, hires, forecasts, shift templates and schedules, time off,
on-call rotations, pages and escalation policies.

Agent status history and pages are records of what happened: read-only here. Forecast runs
are made by the forecasting code and only looked at.
"""
from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from helpdesk.admin_base import ReadOnlyAdmin

from .models import (
    AgentStatus,
    ArrivalHour,
    CapacityRollupState,
    CapacityStaleDay,
    EscalationPolicy,
    EscalationStep,
    ForecastPoint,
    ForecastRun,
    HandleDay,
    Hire,
    OnCallOverride,
    Page,
    Rotation,
    RotationMember,
    ScheduledShift,
    ShiftTemplate,
    TeamCapacity,
    TimeOff,
)

# --- capacity and forecasts --------------------------------------------------------------

@admin.register(TeamCapacity)
class TeamCapacityAdmin(admin.ModelAdmin):
    list_display = ("team", "utilization", "shrinkage", "service_level",
                    "answer_target_seconds", "max_occupancy")
    list_select_related = ("team",)


@admin.register(Hire)
class HireAdmin(admin.ModelAdmin):
    list_display = ("agent", "team", "started_on")
    list_select_related = ("agent", "team")
    list_filter = ("team",)
    raw_id_fields = ("agent",)
    date_hierarchy = "started_on"


# The capacity page's rollups (workforce.rollup): written by Celery, shown for audit.

@admin.register(ArrivalHour)
class ArrivalHourAdmin(ReadOnlyAdmin):
    list_display = ("hour", "team_id", "channel", "tickets")
    list_filter = ("channel",)
    ordering = ("-hour", "team_id", "channel")
    show_full_result_count = False


@admin.register(HandleDay)
class HandleDayAdmin(ReadOnlyAdmin):
    list_display = ("day", "team_id", "priority", "tickets", "tracked", "tracked_minutes",
                    "untracked")
    ordering = ("-day", "team_id", "priority")
    show_full_result_count = False


@admin.register(CapacityRollupState)
class CapacityRollupStateAdmin(ReadOnlyAdmin):
    list_display = ("covered_from", "covered_to", "synced_at", "rebuilt_at")


@admin.register(CapacityStaleDay)
class CapacityStaleDayAdmin(ReadOnlyAdmin):
    list_display = ("day",)


class ForecastPointInline(admin.TabularInline):
    model = ForecastPoint
    extra = 0
    can_delete = False
    readonly_fields = ("hour", "expected")
    max_num = 0


@admin.register(ForecastRun)
class ForecastRunAdmin(admin.ModelAdmin):
    list_display = ("created_at", "method", "team", "channel", "starts_at", "hours")
    list_select_related = ("team",)
    list_filter = ("method", "team")
    inlines = [ForecastPointInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(ForecastPoint)
class ForecastPointAdmin(ReadOnlyAdmin):
    list_display = ("run", "hour", "expected")
    list_select_related = ("run",)


# --- schedules ------------------------------------------------------------------------------

@admin.register(ShiftTemplate)
class ShiftTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "start", "end", "second_start", "second_end", "break_minutes")
    search_fields = ("name",)


@admin.register(ScheduledShift)
class ScheduledShiftAdmin(admin.ModelAdmin):
    """Plan shifts from the schedule pages (they check conflicts); here to look and fix."""

    list_display = ("agent", "team", "template", "starts_at", "ends_at", "break_minutes")
    list_select_related = ("agent", "team", "template")
    list_filter = ("team", "template")
    search_fields = ("agent__username", "agent__first_name", "agent__last_name")
    raw_id_fields = ("agent",)
    date_hierarchy = "starts_at"


@admin.register(TimeOff)
class TimeOffAdmin(admin.ModelAdmin):
    list_display = ("agent", "starts_at", "ends_at", "status", "decided_by", "decided_at")
    list_select_related = ("agent", "decided_by")
    list_filter = ("status",)
    search_fields = ("agent__username", "reason")
    raw_id_fields = ("agent", "decided_by")
    date_hierarchy = "starts_at"


@admin.register(AgentStatus)
class AgentStatusAdmin(ReadOnlyAdmin):
    list_display = ("agent", "status", "started_at", "ended_at")
    list_select_related = ("agent",)
    list_filter = ("status",)
    search_fields = ("agent__username",)
    date_hierarchy = "started_at"


# --- on-call ------------------------------------------------------------------------------

class RotationMemberInline(admin.TabularInline):
    model = RotationMember
    extra = 0
    raw_id_fields = ("user",)


@admin.register(Rotation)
class RotationAdmin(admin.ModelAdmin):
    list_display = ("name", "team", "timezone", "handoff_weekday", "handoff_time", "starts_on")
    list_select_related = ("team",)
    inlines = [RotationMemberInline]
    search_fields = ("name",)


@admin.register(RotationMember)
class RotationMemberAdmin(admin.ModelAdmin):
    list_display = ("rotation", "position", "user")
    list_select_related = ("rotation", "user")
    raw_id_fields = ("user",)


@admin.register(OnCallOverride)
class OnCallOverrideAdmin(admin.ModelAdmin):
    list_display = ("rotation", "role", "user", "starts_at", "ends_at", "reason")
    list_select_related = ("rotation", "user")
    list_filter = ("rotation", "role")
    raw_id_fields = ("user", "created_by", "swap_with")


@admin.register(Page)
class PageAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "rotation", "user", "role", "priority", "after_hours",
                    "acknowledged_at")
    list_select_related = ("rotation", "user")
    list_filter = ("rotation", "role", "after_hours")


class EscalationStepInline(admin.TabularInline):
    model = EscalationStep
    extra = 0
    raw_id_fields = ("user",)


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(admin.ModelAdmin):
    list_display = ("name", "rotation")
    list_select_related = ("rotation",)
    inlines = [EscalationStepInline]


@admin.register(EscalationStep)
class EscalationStepAdmin(admin.ModelAdmin):
    list_display = ("policy", "after_minutes", "target", "user")
    list_select_related = ("policy", "user")
    raw_id_fields = ("user",)

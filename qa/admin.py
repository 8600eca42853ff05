"""QA admin: scorecards are configured here (dimensions, rubric levels, auto-fail items,
checklist); reviews, flags, coaching and calibration are shown read-only.

Versioning: saving changes to a scorecard that reviews or calibration sessions have used
does not touch it; the changes go to a new version (which becomes current), so every
review keeps the exact scorecard it was scored on.
"""
from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db import transaction
from django.db.models import Max
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.utils.translation import gettext

from helpdesk.paging import BIG_LIST_PER_PAGE, EstimatedCountPaginator

from . import services
from .models import (
    AutoFailItem,
    CalibrationItem,
    CalibrationSession,
    ChecklistItem,
    CoachingSession,
    Dimension,
    QAFlag,
    Review,
    ReviewEvent,
    RubricLevel,
    SampleRun,
    Scorecard,
)


class DimensionInline(admin.TabularInline):
    model = Dimension
    extra = 0
    fields = ["order", "name", "weight", "description"]


class RubricLevelInline(admin.TabularInline):
    model = RubricLevel
    fk_name = "scorecard"
    extra = 0
    fields = ["dimension", "points", "label", "description"]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any):
        if db_field.name == "dimension":
            card_id = getattr(request, "_qa_scorecard_id", None)
            if card_id is None and request.resolver_match:
                card_id = request.resolver_match.kwargs.get("object_id")
            kwargs["queryset"] = Dimension.objects.filter(scorecard_id=card_id or 0)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class AutoFailInline(admin.TabularInline):
    model = AutoFailItem
    extra = 0
    fields = ["order", "name", "description"]


class ChecklistInline(admin.TabularInline):
    model = ChecklistItem
    extra = 0
    fields = ["order", "name"]


def remap_post(post: QueryDict, new: Scorecard, mapping: services.VersionMap) -> QueryDict:
    """The submitted form, pointed at the copied rows of the new version."""
    maps = {"dimensions": mapping.dimensions, "levels": mapping.levels,
            "auto_fail_items": mapping.auto_fail_items,
            "checklist_items": mapping.checklist_items}
    out = post.copy()
    for key in list(out.keys()):
        parts = key.split("-")
        if len(parts) != 3 or parts[0] not in maps:
            continue
        prefix, _, name = parts
        value = out.get(key)
        if not value or not value.isdecimal():
            continue
        if name == "id":
            out[key] = str(maps[prefix].get(int(value), value))
        elif name == "scorecard":
            out[key] = str(new.pk)
        elif prefix == "levels" and name == "dimension":
            out[key] = str(mapping.dimensions.get(int(value), value))
    return out


@admin.register(Scorecard)
class ScorecardAdmin(admin.ModelAdmin):
    list_display = ["name", "version", "is_current", "created_at"]
    list_filter = ["is_current"]
    search_fields = ["name"]
    readonly_fields = ["version", "is_current", "previous", "created_at"]
    fields = ["name", "description", "version", "is_current", "previous", "created_at"]
    inlines = [DimensionInline, RubricLevelInline, AutoFailInline, ChecklistInline]

    def changeform_view(self, request: HttpRequest, object_id: str | None = None,
                        form_url: str = "", extra_context: dict | None = None) -> HttpResponse:
        if request.method != "POST" or object_id is None:
            return super().changeform_view(request, object_id, form_url, extra_context)
        card = self.get_object(request, unquote(object_id))
        if card is None or not card.is_used or not self.has_change_permission(request, card):
            return super().changeform_view(request, object_id, form_url, extra_context)
        with transaction.atomic():
            new, mapping = services.new_scorecard_version(card)
            request.POST = remap_post(request.POST, new, mapping)
            request._qa_scorecard_id = new.pk
            response = super().changeform_view(request, str(new.pk), form_url, extra_context)
            if not isinstance(response, HttpResponseRedirect):
                transaction.set_rollback(True)  # invalid edit: no new version either
                return response
        messages.info(request, gettext("%(scorecard)s has been used by reviews, so your changes "
                                       "were saved as version %(version)s, now the current one.")
                      % {"scorecard": card, "version": new.version})
        return response

    def save_model(self, request: HttpRequest, obj: Scorecard, form: Any, change: bool) -> None:
        if not change:  # a new scorecard with a known name is that name's next version
            latest = Scorecard.objects.filter(name=obj.name).aggregate(v=Max("version"))["v"]
            if latest:
                Scorecard.objects.filter(name=obj.name, is_current=True).update(
                    is_current=False)
                obj.version = latest + 1
        super().save_model(request, obj, form, change)


class ReadOnlyAdmin(admin.ModelAdmin):
    """History and workflow rows: changed through the QA pages and services only."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = ["id", "ticket", "agent", "reviewer", "status", "score", "auto_failed",
                    "source", "submitted_at"]
    list_filter = ["status", "source", "auto_failed", "is_ticket_of_week"]
    list_select_related = ["ticket", "agent", "reviewer"]
    raw_id_fields = ["ticket", "agent", "reviewer"]
    # Weekly samples over years: estimated count, no date hierarchy (it reads the
    # distinct dates of the whole table), newest first by the primary key.
    paginator = EstimatedCountPaginator
    list_per_page = BIG_LIST_PER_PAGE
    show_full_result_count = False
    ordering = ["-pk"]


@admin.register(ReviewEvent)
class ReviewEventAdmin(ReadOnlyAdmin):
    list_display = ["review", "kind", "actor", "at", "score_before", "score_after"]
    list_filter = ["kind"]
    list_select_related = ["review", "actor"]
    raw_id_fields = ["review", "actor"]
    paginator = EstimatedCountPaginator
    list_per_page = BIG_LIST_PER_PAGE
    show_full_result_count = False
    ordering = ["-pk"]


@admin.register(QAFlag)
class QAFlagAdmin(admin.ModelAdmin):
    list_display = ["ticket", "reason", "flagged_by", "created_at"]
    list_filter = ["reason"]
    raw_id_fields = ["ticket", "flagged_by"]
    list_select_related = ["ticket", "flagged_by"]


@admin.register(SampleRun)
class SampleRunAdmin(ReadOnlyAdmin):
    list_display = ["week_start", "scorecard", "reviews_created", "started_at"]


@admin.register(CoachingSession)
class CoachingSessionAdmin(ReadOnlyAdmin):
    list_display = ["agent", "coach", "held_on", "development_focus", "follow_up_on"]
    list_select_related = ["agent", "coach"]


class CalibrationItemInline(admin.TabularInline):
    model = CalibrationItem
    extra = 0
    fields = ["ticket", "agreed_score", "agreed_notes"]
    readonly_fields = fields
    can_delete = False


@admin.register(CalibrationSession)
class CalibrationSessionAdmin(ReadOnlyAdmin):
    list_display = ["title", "facilitator", "scorecard", "status", "created_at"]
    inlines = [CalibrationItemInline]

"""Admin for SLA configuration (calendars, policies, targets, levels, multipliers, overrides)
and read-only views of the per-ticket clocks and their audit trail.

Clock state only changes through sla.services; here it can be looked at, never edited.
Calendars import a country's public holidays from the `holidays` package in one click.
"""
from __future__ import annotations

from collections.abc import Iterable

import holidays as holiday_data
from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from helpdesk import config_cache
from helpdesk.models import SupportTier
from helpdesk.paging import BIG_LIST_PER_PAGE, EstimatedCountPaginator
from tickets.admin import AuditRecordAdmin, ReadOnlyRecordAdmin
from tickets.field_definitions import check_conditions_known
from tickets.models import Channel, Priority

from .models import (
    BusinessHours,
    Calendar,
    Clock,
    ClockDay,
    ClockEvent,
    ClockLevelFire,
    ClockPause,
    ClockRollupState,
    Holiday,
    Level,
    Metric,
    Override,
    Policy,
    Target,
    TierMultiplier,
)

MAX_IMPORT_YEARS = 10


# --- public holidays ----------------------------------------------------------------------

def import_public_holidays(calendar: Calendar, *, country: str, years: Iterable[int],
                           language: str = "") -> tuple[int, int]:
    """Add the public holidays of `country` ("DE", "DE-BY", "US-CA") in `years` to the
    calendar, skipping dates it already has. Returns (added, already there).

    Names are in the country's own language unless `language` is given. An unknown country
    or subdivision raises ValidationError and changes nothing.
    """
    code, _dash, subdiv = country.strip().upper().partition("-")
    years = sorted(set(years))
    try:
        found = holiday_data.country_holidays(code, subdiv=subdiv or None, years=years,
                                              language=language or None)
        if not language and found.default_language:
            found = holiday_data.country_holidays(code, subdiv=subdiv or None, years=years,
                                                  language=found.default_language)
        dates = dict(found.items())
    # The holidays package signals an unknown country with NotImplementedError.
    except (NotImplementedError, KeyError, ValueError, AttributeError) as exc:
        raise ValidationError(
            _("No public holidays are known for %(country)s (%(exc)s). Use an ISO 3166 country "
              "code, optionally with a subdivision: DE, DE-BY, US-CA.")
            % {"country": repr(country), "exc": exc}
        ) from exc
    with transaction.atomic():
        existing = set(calendar.holidays.filter(date__in=list(dates))
                       .values_list("date", flat=True))
        new = [Holiday(calendar=calendar, date=day, name=str(name)[:120])
               for day, name in sorted(dates.items()) if day not in existing]
        Holiday.objects.bulk_create(new, ignore_conflicts=True)
        if not calendar.country:
            calendar.country = country.strip().upper()[:8]
        # A new updated_at invalidates every process's cached BusinessCalendar.
        calendar.save(update_fields=["country", "updated_at"])
    return len(new), len(existing)


def _default_years() -> str:
    this_year = timezone.localdate().year
    return f"{this_year}, {this_year + 1}"


class HolidayImportForm(forms.Form):
    country = forms.CharField(
        max_length=20, required=False,
        help_text=gettext_lazy("ISO country code, optionally with a subdivision: DE, DE-BY, "
                               "US-CA. Blank: each calendar's own country."),
    )
    years = forms.CharField(max_length=100,
                            help_text=gettext_lazy("Comma-separated, e.g. 2026, 2027."))
    language = forms.CharField(
        max_length=10, required=False,
        help_text=gettext_lazy("Language of the holiday names, e.g. en_US. Blank: the "
                               "country's own."),
    )

    def clean_years(self) -> list[int]:
        raw = self.cleaned_data["years"].replace(";", ",").replace(" ", ",")
        try:
            years = sorted({int(part) for part in raw.split(",") if part.strip()})
        except ValueError as exc:
            raise ValidationError(_("Years are numbers, e.g. 2026, 2027.")) from exc
        if not years:
            raise ValidationError(_("Give at least one year."))
        if len(years) > MAX_IMPORT_YEARS:
            raise ValidationError(_("At most %(num)s years at a time.")
                                  % {"num": MAX_IMPORT_YEARS})
        if years[0] < 1950 or years[-1] > 2100:
            raise ValidationError(_("Years between 1950 and 2100."))
        return years


def _import_into(request: HttpRequest, model_admin: admin.ModelAdmin,
                 calendars: Iterable[Calendar], data: dict) -> int:
    """Run the import for each calendar and report each outcome; the number of errors."""
    errors = 0
    span = (f"{data['years'][0]}" if len(data["years"]) == 1
            else f"{data['years'][0]}–{data['years'][-1]}")
    for calendar in calendars:
        country = data["country"] or calendar.country
        if not country:
            errors += 1
            model_admin.message_user(
                request, _("%(calendar)s: no country given and the calendar has none.")
                % {"calendar": calendar.name},
                messages.ERROR)
            continue
        try:
            added, existing = import_public_holidays(
                calendar, country=country, years=data["years"], language=data["language"])
        except ValidationError as exc:
            errors += 1
            model_admin.message_user(request, f"{calendar.name}: {' '.join(exc.messages)}",
                                     messages.ERROR)
            continue
        model_admin.message_user(
            request,
            (ngettext("%(calendar)s: added %(num)s public holiday of %(country)s for %(years)s; "
                      "%(existing)s already there, skipped.",
                      "%(calendar)s: added %(num)s public holidays of %(country)s for %(years)s; "
                      "%(existing)s already there, skipped.", added) if existing else
             ngettext("%(calendar)s: added %(num)s public holiday of %(country)s for %(years)s.",
                      "%(calendar)s: added %(num)s public holidays of %(country)s for %(years)s.",
                      added))
            % {"calendar": calendar.name, "num": added, "country": country.upper(),
               "years": span, "existing": existing},
            messages.SUCCESS,
        )
    return errors


# --- calendars ------------------------------------------------------------------------------

class BusinessHoursInline(admin.TabularInline):
    model = BusinessHours
    extra = 0


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 0
    ordering = ("-date",)


@admin.register(Calendar)
class CalendarAdmin(admin.ModelAdmin):
    list_display = ("name", "timezone", "always_open", "country", "holiday_count", "updated_at")
    list_filter = ("always_open", "timezone")
    search_fields = ("name", "country")
    readonly_fields = ("updated_at",)
    inlines = [BusinessHoursInline, HolidayInline]
    actions = ["import_public_holidays"]
    change_form_template = "sla/admin/calendar_change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Calendar]:
        return super().get_queryset(request).annotate(holiday_count=Count("holidays"))

    @admin.display(description=gettext_lazy("holidays"), ordering="holiday_count")
    def holiday_count(self, calendar: Calendar) -> int:
        return calendar.holiday_count

    def get_urls(self):
        view = self.admin_site.admin_view(self.import_holidays_view)
        return [
            path("<path:object_id>/import-holidays/", view,
                 name="sla_calendar_import_holidays"),
            *super().get_urls(),
        ]

    def _import_page(self, request: HttpRequest, form: HolidayImportForm,
                     calendars: list[Calendar], *, action: bool) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import public holidays"),
            "opts": self.model._meta,
            "form": form,
            "calendars": calendars,
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "sla/admin/import_holidays.html", context)

    @admin.action(description=gettext_lazy("Import public holidays"), permissions=["change"])
    def import_public_holidays(self, request: HttpRequest,
                               queryset: QuerySet[Calendar]) -> TemplateResponse | None:
        calendars = list(queryset.order_by("name"))
        if "apply" in request.POST:
            form = HolidayImportForm(request.POST)
            if form.is_valid():
                _import_into(request, self, calendars, form.cleaned_data)
                return None  # back to the list, with the messages
        else:
            countries = {c.country for c in calendars}
            form = HolidayImportForm(initial={
                "country": countries.pop() if len(countries) == 1 else "",
                "years": _default_years(),
            })
        return self._import_page(request, form, calendars, action=True)

    def import_holidays_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        calendar = get_object_or_404(Calendar, pk=object_id)
        if not self.has_change_permission(request, calendar):
            raise PermissionDenied
        if request.method == "POST":
            form = HolidayImportForm(request.POST)
            if form.is_valid():
                errors = _import_into(request, self, [calendar], form.cleaned_data)
                if not errors:
                    return HttpResponseRedirect(
                        reverse("admin:sla_calendar_change", args=[calendar.pk]))
        else:
            form = HolidayImportForm(initial={"country": calendar.country,
                                              "years": _default_years()})
        return self._import_page(request, form, [calendar], action=False)


class CalendarRowAdmin(admin.ModelAdmin):
    """Hours and holidays edited on their own: the calendar is touched so that every
    process rebuilds its cached BusinessCalendar."""

    list_select_related = ("calendar",)

    @staticmethod
    def _touch(calendar_ids: Iterable[int]) -> None:
        Calendar.objects.filter(pk__in=set(calendar_ids)).update(updated_at=timezone.now())
        config_cache.forget()  # the targets held per process carry their calendars

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        self._touch([obj.calendar_id, *([form.initial.get("calendar")] if change else [])])

    def delete_model(self, request, obj) -> None:
        super().delete_model(request, obj)
        self._touch([obj.calendar_id])

    def delete_queryset(self, request, queryset) -> None:
        ids = list(queryset.values_list("calendar_id", flat=True))
        super().delete_queryset(request, queryset)
        self._touch(ids)


@admin.register(BusinessHours)
class BusinessHoursAdmin(CalendarRowAdmin):
    list_display = ("calendar", "weekday", "start", "end")
    list_filter = ("calendar", "weekday")
    search_fields = ("calendar__name",)


@admin.register(Holiday)
class HolidayAdmin(CalendarRowAdmin):
    list_display = ("date", "name", "calendar")
    list_filter = ("calendar",)
    search_fields = ("name", "calendar__name")
    date_hierarchy = "date"


# --- policies ---------------------------------------------------------------------------------

class PolicyForm(forms.ModelForm):
    org_tiers = forms.MultipleChoiceField(
        choices=SupportTier.choices, widget=forms.CheckboxSelectMultiple, required=False,
        label=gettext_lazy("Organization tiers"),
        help_text=gettext_lazy("Any of these; none ticked matches every tier."),
    )
    priorities = forms.TypedMultipleChoiceField(
        choices=Priority.choices, coerce=int, widget=forms.CheckboxSelectMultiple,
        required=False, help_text=gettext_lazy("Any of these; none ticked matches every priority."),
    )
    channels = forms.MultipleChoiceField(
        choices=Channel.choices, widget=forms.CheckboxSelectMultiple, required=False,
        help_text=gettext_lazy("Any of these; none ticked matches every channel."),
    )

    class Meta:
        model = Policy
        fields = ("name", "order", "is_active", "description", "org_tiers", "priorities",
                  "channels", "teams", "tags", "custom_field_conditions",
                  "pause_on_third_party", "apply_tier_multipliers")

    def clean_custom_field_conditions(self) -> list:
        conditions = self.cleaned_data.get("custom_field_conditions") or []
        check_conditions_known(conditions)
        return conditions


class TargetInline(admin.TabularInline):
    model = Target
    extra = 0
    fields = ("priority", "metric", "contractual", "internal", "calendar")


class LevelInline(admin.StackedInline):
    model = Level
    extra = 0
    fields = (("percent", "colour"), ("notify_assignee", "notify_team_lead", "notify_managers"),
              "notify_users", ("reassign_to_team", "raise_priority"))
    autocomplete_fields = ("notify_users", "reassign_to_team")


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    form = PolicyForm
    list_display = ("name", "order", "is_active", "conditions", "pause_on_third_party",
                    "apply_tier_multipliers", "target_count")
    list_display_links = ("name",)
    list_editable = ("order", "is_active")
    list_filter = ("is_active", "pause_on_third_party", "apply_tier_multipliers")
    search_fields = ("name", "description")
    ordering = ("order", "id")
    filter_horizontal = ("teams", "tags")
    inlines = [TargetInline, LevelInline]
    fieldsets = (
        (None, {"fields": ("name", "order", "is_active", "description")}),
        (gettext_lazy("Applies to tickets matching all of"), {
            "fields": ("org_tiers", "priorities", "channels", "teams", "tags",
                       "custom_field_conditions"),
            "description": gettext_lazy("The first active policy (by order) whose conditions "
                                        "all hold applies; an empty condition matches "
                                        "everything."),
        }),
        (gettext_lazy("Rules"), {"fields": ("pause_on_third_party", "apply_tier_multipliers")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Policy]:
        return super().get_queryset(request).annotate(target_count=Count("targets"))

    @admin.display(description=gettext_lazy("targets"), ordering="target_count")
    def target_count(self, policy: Policy) -> int:
        return policy.target_count

    @admin.display(description=gettext_lazy("conditions"))
    def conditions(self, policy: Policy) -> str:
        parts = []
        if policy.org_tiers:
            parts.append(_("tiers %(tiers)s") % {"tiers": ", ".join(policy.org_tiers)})
        if policy.priorities:
            parts.append(_("priorities %(priorities)s")
                         % {"priorities": ", ".join(f"P{p}" for p in policy.priorities)})
        if policy.channels:
            parts.append(_("channels %(channels)s") % {"channels": ", ".join(policy.channels)})
        return "; ".join(parts) or _("every ticket (teams and tags aside)")


@admin.register(Target)
class TargetAdmin(admin.ModelAdmin):
    list_display = ("policy", "priority", "metric", "contractual", "internal", "calendar")
    list_filter = ("policy", "priority", "metric", "calendar")
    list_select_related = ("policy", "calendar")
    search_fields = ("policy__name",)


@admin.register(Level)
class LevelAdmin(admin.ModelAdmin):
    list_display = ("policy", "percent", "colour", "notify_assignee", "notify_team_lead",
                    "notify_managers", "reassign_to_team", "raise_priority")
    list_filter = ("policy", "colour")
    list_select_related = ("policy", "reassign_to_team")
    search_fields = ("policy__name",)
    autocomplete_fields = ("notify_users", "reassign_to_team")


@admin.register(TierMultiplier)
class TierMultiplierAdmin(admin.ModelAdmin):
    list_display = ("tier", "factor")
    list_editable = ("factor",)
    list_display_links = ("tier",)


class OverrideForm(forms.ModelForm):
    priorities = forms.TypedMultipleChoiceField(
        choices=Priority.choices, coerce=int, widget=forms.CheckboxSelectMultiple,
        required=False, help_text=gettext_lazy("None ticked: every priority."),
    )
    metrics = forms.MultipleChoiceField(
        choices=Metric.choices, widget=forms.CheckboxSelectMultiple, required=False,
        help_text=gettext_lazy("None ticked: every metric."),
    )

    class Meta:
        model = Override
        fields = ("name", "reason", "starts_at", "ends_at", "policy", "priorities", "metrics",
                  "factor", "replacement")


@admin.register(Override)
class OverrideAdmin(admin.ModelAdmin):
    form = OverrideForm
    list_display = ("name", "starts_at", "ends_at", "policy", "factor", "replacement",
                    "is_current")
    list_filter = ("policy",)
    list_select_related = ("policy",)
    search_fields = ("name", "reason")
    date_hierarchy = "starts_at"

    @admin.display(description=gettext_lazy("in force now"), boolean=True)
    def is_current(self, override: Override) -> bool:
        return override.starts_at <= timezone.now() < override.ends_at


# --- clocks (read only) -------------------------------------------------------------------

class ReadOnlyInline(admin.TabularInline):
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ClockEventInline(ReadOnlyInline):
    model = ClockEvent
    fields = ("at", "kind", "actor", "reason", "data")
    readonly_fields = fields


class ClockPauseInline(ReadOnlyInline):
    model = ClockPause
    fields = ("started_at", "ended_at", "business_time", "actor", "reason")
    readonly_fields = fields


class ClockLevelFireInline(ReadOnlyInline):
    model = ClockLevelFire
    fields = ("percent", "scheduled_at", "fired_at")
    readonly_fields = fields


@admin.register(Clock)
class ClockAdmin(AuditRecordAdmin):
    """State changes go through sla.services (pause, resume, exempt...), never this page."""

    list_display = ("id", "ticket", "metric", "cycle", "state", "policy", "started_at",
                    "due_at", "internal_due_at", "met_at", "breached_at",
                    "internal_breached_at", "completed_at")
    list_filter = ("state", "metric", "policy")
    list_select_related = ("ticket", "policy")
    search_fields = ("=ticket__id",)
    raw_id_fields = ("ticket",)
    paginator = EstimatedCountPaginator
    list_per_page = BIG_LIST_PER_PAGE
    show_full_result_count = False
    ordering = ("-pk",)
    inlines = [ClockLevelFireInline, ClockPauseInline, ClockEventInline]


@admin.register(ClockEvent)
class ClockEventAdmin(AuditRecordAdmin):
    """The SLA audit trail is append-only: nobody adds, edits or deletes it here."""

    list_display = ("at", "ticket", "clock", "kind", "actor", "reason")
    list_filter = ("kind",)
    list_select_related = ("ticket", "clock", "actor")
    search_fields = ("=ticket__id", "reason")
    raw_id_fields = ("ticket", "clock", "actor")
    paginator = EstimatedCountPaginator
    list_per_page = BIG_LIST_PER_PAGE
    show_full_result_count = False
    ordering = ("-pk",)


class LevelPercentFilter(admin.SimpleListFilter):
    """The percents configured on levels: the default filter would read the distinct
    values of every fire in the table."""

    title = gettext_lazy("percent")
    parameter_name = "percent"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin):
        percents = Level.objects.order_by("percent").values_list("percent", flat=True)
        return [(p, f"{p} %") for p in dict.fromkeys(percents)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        return queryset.filter(percent=value) if value and value.isdigit() else queryset


@admin.register(ClockLevelFire)
class ClockLevelFireAdmin(AuditRecordAdmin):
    """Deleting a row would make its level fire (and notify) again."""

    list_display = ("clock", "percent", "scheduled_at", "fired_at")
    list_filter = (LevelPercentFilter,)
    list_select_related = ("clock",)
    search_fields = ("=clock__ticket__id",)
    raw_id_fields = ("clock",)
    paginator = EstimatedCountPaginator
    list_per_page = BIG_LIST_PER_PAGE
    show_full_result_count = False
    ordering = ("-pk",)


@admin.register(ClockPause)
class ClockPauseAdmin(AuditRecordAdmin):
    list_display = ("clock", "ticket", "actor", "reason", "started_at", "ended_at",
                    "business_time")
    list_filter = (("ended_at", admin.EmptyFieldListFilter),)
    list_select_related = ("clock", "ticket", "actor")
    search_fields = ("=ticket__id", "reason", "actor__username")
    raw_id_fields = ("clock", "ticket", "actor")
    paginator = EstimatedCountPaginator
    list_per_page = BIG_LIST_PER_PAGE
    show_full_result_count = False
    ordering = ("-pk",)



@admin.register(ClockDay)
class ClockDayAdmin(ReadOnlyRecordAdmin):
    """The SLA dashboard's daily rollup (sla.rollup): written by Celery, shown for audit."""

    list_display = ("day", "metric", "team_id", "tier", "priority", "channel", "clocks",
                    "met", "breached", "breaches")
    list_filter = ("metric",)
    paginator = EstimatedCountPaginator
    list_per_page = BIG_LIST_PER_PAGE
    show_full_result_count = False
    ordering = ("-day", "-pk")


@admin.register(ClockRollupState)
class ClockRollupStateAdmin(ReadOnlyRecordAdmin):
    list_display = ("covered_from", "covered_to", "synced_at", "rebuilt_at")

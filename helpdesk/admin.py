"""Admin for identity: users, organizations, teams and their members, skills, API tokens."""
from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.admin import TokenAdmin as DrfTokenAdmin
from rest_framework.authtoken.models import TokenProxy

from .models import (
    Membership,
    NoticeTemplate,
    Notification,
    NotificationPreference,
    Organization,
    Skill,
    Team,
    User,
)
from .notice_templates import default_keys


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Helpdesk", {"fields": ("organization", "is_org_admin", "skills", "is_away",
                                 "time_zone")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        ("Helpdesk", {"classes": ("wide",), "fields": ("email", "organization", "is_org_admin")}),
    )
    list_display = ("username", "email", "first_name", "last_name", "organization",
                    "is_org_admin", "is_staff", "is_away", "is_active")
    list_filter = ("is_staff", "is_superuser", "is_active", "is_away", "is_org_admin", "groups",
                   "organization__support_tier")
    list_select_related = ("organization",)
    search_fields = ("username", "first_name", "last_name", "email")
    autocomplete_fields = ("organization",)
    filter_horizontal = ("groups", "user_permissions", "skills")
    # Millions of customers: no COUNT(*) of the whole table on every page.
    show_full_result_count = False


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "domain", "support_tier", "csm", "created_at")
    list_filter = ("support_tier",)
    list_select_related = ("csm",)
    search_fields = ("name", "domain")
    autocomplete_fields = ("csm",)
    readonly_fields = ("created_at",)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)
    readonly_fields = ("last_assigned_at",)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "tier", "assignment_strategy", "is_default", "member_count")
    list_filter = ("tier", "assignment_strategy")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [MembershipInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Team]:
        return super().get_queryset(request).annotate(member_count=Count("memberships"))

    @admin.display(description=_("members"), ordering="member_count")
    def member_count(self, team: Team) -> int:
        return team.member_count


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    list_display = ("name",)
    search_fields = ("name",)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "team", "is_lead", "last_assigned_at")
    list_filter = ("team", "is_lead")
    list_select_related = ("user", "team")
    search_fields = ("user__username", "user__email", "team__name")
    autocomplete_fields = ("user", "team")
    readonly_fields = ("last_assigned_at",)


# DRF's token admin offers every user in a <select>; with millions of users, search instead.
admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class TokenAdmin(DrfTokenAdmin):
    autocomplete_fields = ("user",)
    list_select_related = ("user",)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Read-only record of what was sent to whom and why."""

    list_display = ("title", "recipient", "source", "urgent", "created_at", "read_at",
                    "emailed_at")
    list_filter = ("source", "urgent", ("read_at", admin.EmptyFieldListFilter))
    search_fields = ("title", "recipient__username", "recipient__email", "dedupe_key")
    raw_id_fields = ("recipient",)
    list_select_related = ("recipient",)
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    """Each user edits their own at /notifications/preferences/; admins can help here."""

    list_display = ("user", "email_enabled", "in_app_enabled", "quiet_start", "quiet_end",
                    "digest_minutes")
    list_filter = ("email_enabled", "in_app_enabled")
    search_fields = ("user__username", "user__email")
    raw_id_fields = ("user",)
    list_select_related = ("user",)
    show_full_result_count = False


class NoticeTemplateForm(forms.ModelForm):
    class Meta:
        model = NoticeTemplate
        fields = ("key", "team", "subject", "body_text", "body_html", "is_active")

    def clean_key(self) -> str:
        key = self.cleaned_data["key"]
        if key not in default_keys():
            raise forms.ValidationError(_("Unknown notice. Known: %(keys)s.")
                                        % {"keys": ", ".join(default_keys())})
        return key


@admin.register(NoticeTemplate)
class NoticeTemplateAdmin(admin.ModelAdmin):
    """The wording of every notice; rows override the shipped defaults."""

    form = NoticeTemplateForm
    list_display = ("key", "team", "subject", "is_active", "updated_at")
    list_filter = ("is_active", "team")
    search_fields = ("key", "subject")

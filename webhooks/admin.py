"""Admin: endpoints (the secret shown once, masked after), the delivery log, redeliver."""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from helpdesk.admin_base import ReadOnlyAdmin

from .models import Attempt, Delivery, Endpoint, EventType, new_secret
from .publishing import redeliver


class EndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https",
                         help_text=_("http(s) URL that receives a POST per event."))
    events = forms.MultipleChoiceField(choices=EventType.choices,
                                       widget=forms.CheckboxSelectMultiple,
                                       help_text=_("The events sent to this endpoint."))

    class Meta:
        model = Endpoint
        fields = ["name", "url", "events", "timeout_seconds", "is_active"]


def _show_secret(request: HttpRequest, endpoint: Endpoint) -> None:
    messages.warning(request, gettext("Signing secret of “%(endpoint)s”: %(secret)s — copy it "
                                      "now; it is not shown again.")
                     % {"endpoint": endpoint.name, "secret": endpoint.secret})


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = ["name", "url", "is_active", "event_list", "timeout_seconds",
                    "failing_since", "disabled_at", "log"]
    list_filter = ["is_active"]
    search_fields = ["name", "url"]
    readonly_fields = ["signing_secret", "failing_since", "disabled_at", "disabled_reason",
                       "created_at", "log"]
    actions = ["rotate_secret"]

    @admin.display(description=_("events"))
    def event_list(self, obj: Endpoint) -> str:
        return ", ".join(obj.events or [])

    @admin.display(description=_("signing secret"))
    def signing_secret(self, obj: Endpoint) -> str:
        return obj.masked_secret if obj.pk else gettext("Generated when you save; shown once.")

    @admin.display(description=_("delivery log"))
    def log(self, obj: Endpoint) -> str:
        if not obj.pk:
            return "-"
        url = reverse("admin:webhooks_delivery_changelist") + f"?endpoint__id__exact={obj.pk}"
        return format_html('<a href="{}">Deliveries</a>', url)

    def save_model(self, request: HttpRequest, obj: Endpoint, form, change: bool) -> None:
        if obj.is_active and obj.disabled_at:
            # Re-activated by an admin: its failure history starts again.
            obj.disabled_at, obj.failing_since, obj.disabled_reason = None, None, ""
        super().save_model(request, obj, form, change)
        if not change:
            _show_secret(request, obj)

    @admin.action(description=_("Rotate the signing secret (shown once)"),
                  permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[Endpoint]) -> None:
        for endpoint in queryset:
            endpoint.secret = new_secret()
            endpoint.save(update_fields=["secret"])
            _show_secret(request, endpoint)


class AttemptInline(admin.TabularInline):
    model = Attempt
    fields = ["number", "at", "status_code", "latency_ms", "succeeded", "error",
              "response_excerpt"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["event_type", "endpoint", "status", "attempts", "created_at",
                    "delivered_at", "next_attempt_at", "last_error"]
    list_filter = ["endpoint", "status", "event_type"]
    list_select_related = ["endpoint"]
    search_fields = ["=event_id"]
    date_hierarchy = "created_at"
    inlines = [AttemptInline]
    actions = ["redeliver"]

    def has_redeliver_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("webhooks.change_delivery")

    @admin.action(description=_("Redeliver (same event id, new attempt)"),
                  permissions=["redeliver"])
    def redeliver(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        chosen = list(queryset.select_related("endpoint"))
        inactive = sorted({d.endpoint.name for d in chosen if not d.endpoint.is_active})
        if inactive:
            messages.error(request, gettext("Re-activate the endpoint first: %(endpoints)s")
                           % {"endpoints": ", ".join(inactive)})
            chosen = [d for d in chosen if d.endpoint.is_active]
        count = redeliver(chosen)
        messages.success(request, ngettext("%(num)s delivery queued again.",
                                           "%(num)s deliveries queued again.", count)
                         % {"num": count})


@admin.register(Attempt)
class AttemptAdmin(ReadOnlyAdmin):
    list_display = ["at", "endpoint", "delivery", "number", "status_code", "latency_ms",
                    "succeeded", "error", "response_excerpt"]
    list_filter = ["endpoint", "succeeded"]
    list_select_related = ["endpoint", "delivery", "delivery__endpoint"]
    date_hierarchy = "at"

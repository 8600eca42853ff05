"""Admin for tickets and their configuration (categories, triggers, automations, macros).

Ticket writes made here go through tickets.services like every other write; the
conversation, escalations and the audit trail are read-only records.
"""
from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from helpdesk.admin_base import ReadOnlyAdmin
from helpdesk.paging import BIG_LIST_PER_PAGE, EstimatedCountPaginator

from . import services
from .field_definitions import check_values_known
from .models import (
    Attachment,
    Automation,
    Category,
    CustomField,
    Escalation,
    Macro,
    Message,
    PendingEvents,
    ProductArea,
    RuleEvent,
    RuleFire,
    SavedFilter,
    Tag,
    Ticket,
    TicketChange,
    TicketEvent,
    TicketForm,
    TicketFormField,
    TimeEntry,
    Trigger,
)
from .rules import dryrun as rule_dryrun
from .rules import registry as rule_registry
from .state_machine import Status, TransitionError


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    return exc.translated(gettext) if isinstance(exc, TransitionError) else str(exc)


class ReadOnlyRecordAdmin(admin.ModelAdmin):
    """Records written only by the services: viewable, never added or edited here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class AuditRecordAdmin(ReadOnlyRecordAdmin):
    """Part of the audit trail: not even deleted here."""

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


# --- configuration --------------------------------------------------------------------


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "skill")
    list_select_related = ("skill",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(ProductArea)
class ProductAreaAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "skill")
    list_select_related = ("skill",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name",)
    search_fields = ("name",)
    paginator = EstimatedCountPaginator
    list_per_page = BIG_LIST_PER_PAGE
    show_full_result_count = False


def _catalogue() -> tuple[str, str]:
    """The conditions and actions rules may use (tickets' and the apps' above)."""
    conditions = "; ".join(f"{c.name} ({'/'.join(c.ops)})"
                           for c in rule_registry.conditions().values())
    actions = "; ".join(a.name for a in rule_registry.actions().values())
    return conditions, actions


class RuleForm(forms.ModelForm):
    """Conditions and actions as JSON lists, checked against the registry."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        conditions, actions = _catalogue()
        self.fields["conditions"].help_text = _(
            'A list of {"field": ..., "op": ..., "value": ...}. Fields: %(c)s.') % {
                "c": conditions}
        self.fields["actions"].help_text = _(
            'A list of {"action": ..., "value": ...}, applied in order. Actions: %(a)s.') % {
                "a": actions}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        problems = rule_registry.check_rule_shape(data.get("conditions", []),
                                                  data.get("actions", []))
        if problems:
            raise forms.ValidationError(problems)
        return data


class TriggerForm(RuleForm):
    events = forms.MultipleChoiceField(
        choices=RuleEvent.choices, widget=forms.CheckboxSelectMultiple,
        help_text=_("Runs when any of these happens to a ticket."))

    class Meta:
        model = Trigger
        fields = ("name", "order", "is_active", "stop_processing", "events", "match_all",
                  "conditions", "actions")


class AutomationForm(RuleForm):
    class Meta:
        model = Automation
        fields = ("name", "order", "is_active", "stop_processing", "since", "hours",
                  "business_hours", "calendar", "match_all", "conditions", "actions")


class _RuleAdmin(admin.ModelAdmin):
    list_display = ("name", "order", "is_active", "stop_processing", "last_warning_at")
    list_display_links = ("name",)
    list_editable = ("order", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name",)
    ordering = ("order", "id")
    readonly_fields = ("last_warning", "last_warning_at", "dry_run", "recent_fires")
    fire_field = "trigger"

    @admin.display(description=_("Dry run"))
    def dry_run(self, obj: Any) -> str:
        if obj is None or obj.pk is None:
            return _("Save the rule to see which open tickets it would match.")
        result = rule_dryrun.dry_run(obj)
        return format_html(
            "<p>{}</p><ul>{}</ul>", result.summary,
            format_html_join("", '<li><a href="{}">#{} {}</a></li>',
                             ((t.get_absolute_url(), t.pk, t.subject)
                              for t in result.examples)))

    @admin.display(description=_("Last 100 fires"))
    def recent_fires(self, obj: Any) -> str:
        if obj is None or obj.pk is None:
            return "—"
        fires = (RuleFire.objects.filter(**{self.fire_field: obj})
                 .order_by("-fired_at", "-id")[:100])
        rows = format_html_join(
            "", "<tr><td>{}</td><td><a href=\"{}\">#{}</a></td><td>{}</td></tr>",
            ((timezone.localtime(f.fired_at).strftime("%Y-%m-%d %H:%M:%S"), reverse("agent:ticket",
              args=[f.ticket_id]), f.ticket_id, f.changes) for f in fires))
        return format_html("<table><tr><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>",
                           _("When"), _("Ticket"), _("What it did"), rows) if rows else \
            _("Not fired yet.")


@admin.register(Trigger)
class TriggerAdmin(_RuleAdmin):
    form = TriggerForm
    fieldsets = (
        (None, {"fields": ("name", "order", "is_active", "stop_processing")}),
        (_("When"), {"fields": ("events", "match_all", "conditions")}),
        (_("Then"), {"fields": ("actions",)}),
        (_("History"), {"fields": ("last_warning", "last_warning_at", "dry_run",
                                   "recent_fires")}),
    )


@admin.register(RuleFire)
class RuleFireAdmin(ReadOnlyAdmin):
    """Every firing of every rule (each rule's page shows its last 100)."""

    list_display = ("fired_at", "trigger", "automation", "ticket_id", "changes")
    list_select_related = ("trigger", "automation")
    list_filter = ("trigger", "automation")
    paginator = EstimatedCountPaginator
    list_per_page = BIG_LIST_PER_PAGE
    show_full_result_count = False


@admin.register(Automation)
class AutomationAdmin(_RuleAdmin):
    form = AutomationForm
    fire_field = "automation"
    list_display = ("name", "order", "is_active", "since", "hours", "business_hours",
                    "last_warning_at")
    fieldsets = (
        (None, {"fields": ("name", "order", "is_active", "stop_processing")}),
        (_("When"), {"fields": ("since", "hours", "business_hours", "calendar", "match_all",
                                "conditions")}),
        (_("Then"), {"fields": ("actions",)}),
        (_("History"), {"fields": ("last_warning", "last_warning_at", "dry_run",
                                   "recent_fires")}),
    )


class MacroForm(forms.ModelForm):
    class Meta:
        model = Macro
        fields = ("name", "body", "is_public", "set_status", "set_priority", "add_tags",
                  "status_reason", "set_custom_fields", "is_active")

    def clean_set_custom_fields(self) -> dict:
        values = self.cleaned_data.get("set_custom_fields") or {}
        check_values_known(values)
        return values


@admin.register(Macro)
class MacroAdmin(admin.ModelAdmin):
    form = MacroForm
    list_display = ("name", "is_public", "set_status", "set_priority", "is_active")
    list_filter = ("is_active", "is_public", "set_status")
    search_fields = ("name", "body")
    filter_horizontal = ("add_tags",)


class CustomFieldForm(forms.ModelForm):
    class Meta:
        model = CustomField
        fields = ("label", "key", "field_type", "help_text", "order", "is_active", "choices",
                  "pattern", "pattern_hint", "customer_visible", "customer_editable",
                  "customer_required", "categories", "product_areas", "show_in_queue")
        widgets = {"choices": forms.Textarea(attrs={"rows": 3})}


@admin.register(CustomField)
class CustomFieldAdmin(admin.ModelAdmin):
    form = CustomFieldForm
    list_display = ("label", "key", "field_type", "customer_visible", "customer_editable",
                    "customer_required", "show_in_queue", "order", "is_active")
    list_editable = ("order", "is_active")
    list_filter = ("field_type", "is_active", "customer_visible")
    search_fields = ("label", "key")
    filter_horizontal = ("categories", "product_areas")
    fieldsets = (
        (None, {"fields": ("label", "key", "field_type", "help_text", "order", "is_active")}),
        (_("Type options"), {"fields": ("choices", "pattern", "pattern_hint")}),
        (_("Customers"), {"fields": ("customer_visible", "customer_editable",
                                  "customer_required")}),
        (_("Where it applies"), {"fields": ("categories", "product_areas", "show_in_queue")}),
    )


class TicketFormFieldInline(admin.TabularInline):
    model = TicketFormField
    extra = 1
    fields = ("field", "required", "order")


@admin.register(TicketForm)
class TicketFormAdmin(admin.ModelAdmin):
    list_display = ("name", "category", "product_area", "is_default", "is_active")
    list_select_related = ("category", "product_area")
    list_filter = ("is_active",)
    search_fields = ("name",)
    inlines = (TicketFormFieldInline,)


@admin.register(TicketFormField)
class TicketFormFieldAdmin(admin.ModelAdmin):
    """The fields of every form in one list (each form edits its own inline)."""

    list_display = ("form", "field", "required", "order")
    list_select_related = ("form", "field")
    list_filter = ("required", "form")
    search_fields = ("form__name", "field__label", "field__key")


@admin.register(SavedFilter)
class SavedFilterAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "is_shared", "query")
    list_filter = ("is_shared",)
    list_select_related = ("owner",)
    search_fields = ("name", "owner__username")
    autocomplete_fields = ("owner",)


# --- tickets --------------------------------------------------------------------------


class TicketAdminForm(forms.ModelForm):
    class Meta:
        model = Ticket
        # The admin narrows this to the fields shown (see TicketAdmin.get_fieldsets).
        fields = ("requester", "subject", "description", "channel", "priority", "category",
                  "product_area", "organization", "team", "assignee", "tags")

    def clean_assignee(self):
        assignee = self.cleaned_data.get("assignee")
        if assignee is not None and not assignee.is_agent:
            raise ValidationError(_("Tickets can only be assigned to agents."))
        return assignee


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    form = TicketAdminForm
    list_display = ("id", "subject", "status", "priority", "team", "assignee", "requester",
                    "organization", "created_at", "sla_due_at")
    list_display_links = ("id", "subject")
    list_filter = ("status", "priority", "channel", "team", "category")
    list_select_related = ("team", "assignee", "requester", "organization")
    search_fields = ("=id", "subject", "=requester__email")
    raw_id_fields = ("requester", "assignee")
    autocomplete_fields = ("organization", "tags")
    # A million rows: estimated count, newest first by the primary key (the model's
    # ordering is the open-queue order, whose indexes cover open tickets only).
    paginator = EstimatedCountPaginator
    list_per_page = BIG_LIST_PER_PAGE
    show_full_result_count = False
    ordering = ("-id",)
    actions = ["close_resolved"]

    # What an add creates (through services.create_ticket) ...
    add_fields = ("requester", "subject", "description", "channel", "priority", "category",
                  "product_area", "organization", "tags")
    # ... and what a change may change (through services.update_ticket); the status only
    # moves through the state machine.
    editable_fields = ("subject", "priority", "category", "product_area", "team", "assignee",
                       "tags")
    fieldsets = (
        (None, {"fields": ("subject", "description", "status", "waiting_reason",
                           "merged_into")}),
        (_("Routing"), {"fields": ("priority", "category", "product_area", "team", "assignee",
                                "tags")}),
        (_("People"), {"fields": ("requester", "organization", "ccs", "channel")}),
        (_("Times"), {"fields": ("created_at", "updated_at", "status_changed_at",
                              "first_response_at", "resolved_at", "closed_at", "reopen_count",
                              "sla_due_at")}),
    )

    def get_fieldsets(self, request: HttpRequest, obj: Ticket | None = None):
        if obj is None:
            return ((None, {"fields": self.add_fields}),)
        return self.fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Ticket | None = None):
        if obj is None:
            return ()
        shown = [f for _, opts in self.fieldsets for f in opts["fields"]]
        return tuple(f for f in shown if f not in self.editable_fields)

    def has_delete_permission(self, request: HttpRequest, obj: Ticket | None = None) -> bool:
        return False  # deleting would cascade away the ticket's audit trail

    def save_model(self, request: HttpRequest, obj: Ticket, form, change: bool) -> None:
        data = form.cleaned_data
        if not change:
            ticket = services.create_ticket(
                requester=data["requester"], subject=data["subject"],
                description=data["description"], channel=data["channel"],
                priority=data.get("priority"), category=data.get("category"),
                product_area=data.get("product_area"), organization=data.get("organization"),
                tags=[t.name for t in data.get("tags", ())], actor=request.user,
            )
            obj.pk = ticket.pk  # the admin's log entry and redirect point at the new ticket
            return
        changes = {f: data[f] for f in form.changed_data if f in self.editable_fields}
        if "tags" in changes:
            changes["tags"] = [t.name for t in changes["tags"]]
        if changes:
            try:
                services.update_ticket(obj, actor=request.user, changes=changes)
            except (TransitionError, ValidationError, PermissionDenied) as exc:
                self.message_user(request, _("%(ticket)s was not changed: %(reason)s") % {
                    "ticket": obj.reference, "reason": _error_text(exc)}, messages.ERROR)

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        # Tags were written by the service (with their audit event); no form.save_m2m().
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    @admin.action(description=_("Close resolved tickets"), permissions=["change"])
    def close_resolved(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        closed, refused = 0, []
        for ticket in queryset.order_by("pk"):
            try:
                services.transition(ticket, Status.CLOSED, actor=request.user,
                                    reason="closed from the admin")
                closed += 1
            except (TransitionError, ValidationError, PermissionDenied) as exc:
                refused.append(f"{ticket.reference}: {_error_text(exc)}")
        if closed:
            self.message_user(request, ngettext("Closed %(num)s ticket.", "Closed %(num)s tickets.",
                                                closed) % {"num": closed}, messages.SUCCESS)
        if refused:
            shown = "; ".join(refused[:10]) + (" …" if len(refused) > 10 else "")
            self.message_user(request, ngettext("%(num)s ticket not closed: %(reasons)s",
                                                "%(num)s tickets not closed: %(reasons)s",
                                                len(refused)) % {"num": len(refused),
                                                                 "reasons": shown},
                              messages.WARNING)


@admin.register(Message)
class MessageAdmin(ReadOnlyRecordAdmin):
    list_display = ("id", "ticket", "author", "is_public", "by_agent", "channel", "created_at")
    list_filter = ("is_public", "by_agent", "channel")
    list_select_related = ("ticket", "author")
    search_fields = ("=ticket__id", "=author__email")
    raw_id_fields = ("ticket", "author", "merged_from")
    paginator = EstimatedCountPaginator
    list_per_page = BIG_LIST_PER_PAGE
    show_full_result_count = False
    ordering = ("-pk",)


@admin.register(TicketChange)
class TicketChangeAdmin(AuditRecordAdmin):
    """The incremental export's change log: written by database triggers, pruned by the
    beat job (tickets.changes.prune), never edited."""

    list_display = ("id", "xid", "ticket_id", "kind", "merged_into_id", "changed_at")
    list_filter = ("kind",)
    search_fields = ("=ticket_id",)
    paginator = EstimatedCountPaginator
    list_per_page = BIG_LIST_PER_PAGE
    show_full_result_count = False
    ordering = ("-pk",)


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyRecordAdmin):
    list_display = ("filename", "ticket_id", "message", "content_type", "size", "created_at")
    list_select_related = ("message",)
    search_fields = ("filename", "=message__ticket__id")
    raw_id_fields = ("message",)
    paginator = EstimatedCountPaginator
    list_per_page = BIG_LIST_PER_PAGE
    show_full_result_count = False
    ordering = ("-pk",)

    @admin.display(description=_("ticket"), ordering="message__ticket_id")
    def ticket_id(self, attachment: Attachment) -> int:
        return attachment.message.ticket_id


@admin.register(TicketEvent)
class TicketEventAdmin(AuditRecordAdmin):
    """The audit trail is append-only: nobody adds, edits or deletes it here."""

    list_display = ("ticket", "kind", "field", "before", "after", "actor", "is_public",
                    "created_at")
    list_filter = ("kind", "is_public")
    list_select_related = ("ticket", "actor")
    search_fields = ("=ticket__id",)
    raw_id_fields = ("ticket", "actor")
    paginator = EstimatedCountPaginator
    list_per_page = BIG_LIST_PER_PAGE
    show_full_result_count = False
    ordering = ("-pk",)


@admin.register(Escalation)
class EscalationAdmin(AuditRecordAdmin):
    list_display = ("ticket", "kind", "from_team", "to_team", "actor", "created_at")
    list_filter = ("kind", "to_team")
    list_select_related = ("ticket", "from_team", "to_team", "actor")
    search_fields = ("=ticket__id",)
    raw_id_fields = ("ticket", "actor")
    paginator = EstimatedCountPaginator
    list_per_page = BIG_LIST_PER_PAGE
    show_full_result_count = False
    ordering = ("-pk",)


@admin.register(TimeEntry)
class TimeEntryAdmin(admin.ModelAdmin):
    """Time tracked on tickets (handle time); agents log it from the ticket page."""

    list_display = ("ticket", "agent", "minutes", "started_at", "ended_at", "note")
    list_filter = (("ended_at", admin.EmptyFieldListFilter),)
    list_select_related = ("ticket", "agent")
    search_fields = ("=ticket__id", "agent__username")
    raw_id_fields = ("ticket", "agent", "message")
    paginator = EstimatedCountPaginator
    list_per_page = BIG_LIST_PER_PAGE
    show_full_result_count = False
    ordering = ("-pk",)


# --- satisfaction surveys -------------------------------------------------------------

from .models import FollowUp, Survey  # noqa: E402  (kept beside the survey admin)


class RatingFilter(admin.SimpleListFilter):
    """Ratings 1-5 (and unanswered), without reading the distinct values of the table."""

    title = _("rating")
    parameter_name = "rating"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin):
        return [("none", _("No answer")), *((str(n), str(n)) for n in range(1, 6))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value == "none":
            return queryset.filter(rating__isnull=True)
        return queryset.filter(rating=int(value)) if value and value.isdigit() else queryset


@admin.register(Survey)
class SurveyAdmin(ReadOnlyRecordAdmin):
    """Surveys are scheduled, sent and answered through tickets.surveys only."""

    list_display = ("ticket", "resolution", "requester", "agent", "team", "status",
                    "scheduled_for", "sent_at", "rating", "nps", "responded_at")
    list_filter = ("status", RatingFilter, "team")
    list_select_related = ("ticket", "requester", "agent", "team")
    search_fields = ("=ticket__id", "requester__email")
    raw_id_fields = ("ticket", "requester", "agent")
    paginator = EstimatedCountPaginator
    list_per_page = BIG_LIST_PER_PAGE
    show_full_result_count = False
    ordering = ("-pk",)


@admin.register(FollowUp)
class FollowUpAdmin(ReadOnlyRecordAdmin):
    """Low-score follow-ups; leads handle them from /survey/follow-ups/."""

    list_display = ("ticket", "owner", "due_at", "reminded_at", "handled_at", "handled_by")
    list_filter = (("handled_at", admin.EmptyFieldListFilter),)
    list_select_related = ("ticket", "owner", "handled_by")
    search_fields = ("=ticket__id", "owner__username")
    raw_id_fields = ("survey", "ticket", "owner", "handled_by")
    paginator = EstimatedCountPaginator
    list_per_page = BIG_LIST_PER_PAGE
    show_full_result_count = False
    ordering = ("-pk",)


from .models import TicketFollower  # noqa: E402  (beside its admin)


@admin.register(TicketFollower)
class TicketFollowerAdmin(admin.ModelAdmin):
    """Who follows which ticket (agents follow and unfollow on the ticket page)."""

    list_display = ("ticket", "user", "created_at")
    list_select_related = ("ticket", "user")
    search_fields = ("=ticket__id", "user__username")
    raw_id_fields = ("ticket", "user")
    paginator = EstimatedCountPaginator
    list_per_page = BIG_LIST_PER_PAGE
    show_full_result_count = False
    ordering = ("-pk",)


@admin.register(PendingEvents)
class PendingEventsAdmin(ReadOnlyAdmin):
    """The outbox of ticket-event reactions still to run (tickets.events): normally empty
    within seconds; rows that stay tell of a stopped worker or a lost task."""

    list_display = ("pk", "created_at", "events")
    ordering = ("pk",)

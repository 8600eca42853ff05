"""Admin: mailboxes (configuration), the inbound log (read-only), quarantine with a retry
action, the outbox filtered by delivery status, and bouncing addresses with a clear action."""
from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import formats, timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from helpdesk.models import NoticeTemplate
from helpdesk.notice_templates import (
    RenderedNotice,
    Wording,
    default_keys,
    render_notice,
    render_wording,
)
from tickets.models import Message, Ticket

from . import bounces, notices, outbound, services, waiting
from .models import (
    BounceMark,
    CustomerMailPreference,
    HeldEmail,
    InboundMessage,
    Mailbox,
    OutboundEmail,
    OutboundStatus,
    Quarantine,
    TeamSender,
)


@admin.register(Mailbox)
class MailboxAdmin(admin.ModelAdmin):
    list_display = ("name", "address", "imap_host", "is_active", "last_polled_at", "last_uid",
                    "last_error")
    list_filter = ("is_active",)
    search_fields = ("name", "address")
    readonly_fields = ("last_polled_at", "last_uid", "uid_validity", "last_error")
    fieldsets = (
        (None, {"fields": ("name", "address", "is_active")}),
        ("IMAP", {"fields": ("imap_host", "imap_port", "imap_tls", "username", "password_env",
                             "folder"),
                  "description": _("The password is read from the named environment variable; "
                                   "it is never stored in the database.")}),
        (_("Inbound webhook"), {"fields": ("webhook_token_env",)}),
        (_("New tickets"), {"fields": ("allow_new_customers", "default_team", "default_priority")}),
        (_("Polling state"), {"fields": ("last_polled_at", "last_uid", "uid_validity",
                                      "last_error")}),
    )


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "from_address", "subject", "status", "ticket", "mailbox")
    list_filter = ("status", "mailbox")
    search_fields = ("message_id", "from_address", "subject")
    list_select_related = ("ticket", "mailbox")
    raw_id_fields = ("ticket", "ticket_message")
    date_hierarchy = "received_at"


@admin.register(Quarantine)
class QuarantineAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "mailbox", "size", "short_error", "resolved_at")
    list_filter = ("mailbox", ("resolved_at", admin.EmptyFieldListFilter))
    list_select_related = ("mailbox",)
    actions = ["retry_ingest"]

    @admin.display(description=_("error"))
    def short_error(self, obj: Quarantine) -> str:
        lines = [line for line in obj.error.strip().splitlines() if line.strip()]
        return lines[-1][:120] if lines else ""

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser

    @admin.action(description=_("Retry ingest of the selected messages"))
    def retry_ingest(self, request: HttpRequest, queryset: QuerySet[Quarantine]) -> None:
        done = failed = 0
        for row in queryset.filter(resolved_at__isnull=True):
            outcome = services.retry_quarantined(row)
            if outcome is None:
                failed += 1
            else:
                done += 1
        if done:
            self.message_user(request, ngettext("%(num)s message ingested.",
                                                "%(num)s messages ingested.", done)
                              % {"num": done}, messages.SUCCESS)
        if failed:
            self.message_user(request, ngettext("%(num)s message still fails; see the error.",
                                                "%(num)s messages still fail; see the error.",
                                                failed) % {"num": failed}, messages.WARNING)


@admin.register(OutboundEmail)
class OutboundEmailAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "kind", "to", "subject", "status", "attempts", "sent_at",
                    "ticket")
    list_filter = ("status", "kind")
    search_fields = ("key", "message_id", "to", "subject")
    list_select_related = ("ticket",)
    raw_id_fields = ("ticket", "ticket_message", "mailbox")
    actions = ["requeue"]

    @admin.action(description=_("Send the selected failed e-mails again"))
    def requeue(self, request: HttpRequest, queryset: QuerySet[OutboundEmail]) -> None:
        rows = list(queryset.filter(status=OutboundStatus.FAILED))
        for row in rows:
            outbound.retry_outbound(row, actor=request.user)
        self.message_user(request, ngettext("%(num)s e-mail queued again (%(time)s).",
                                            "%(num)s e-mails queued again (%(time)s).",
                                            len(rows)) % {
            "num": len(rows), "time": formats.time_format(timezone.localtime(), "H:i")})


class HeldEmailInline(admin.TabularInline):
    model = HeldEmail
    fields = ("held_at", "kind", "subject", "ticket")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(BounceMark)
class BounceMarkAdmin(ReadOnlyAdmin):
    list_display = ("address", "status", "bounced_at", "failures", "cleared_at", "cleared_by",
                    "ticket")
    list_filter = (("cleared_at", admin.EmptyFieldListFilter),)
    search_fields = ("address",)
    list_select_related = ("ticket", "cleared_by")
    raw_id_fields = ("user", "ticket", "outbound", "report", "cleared_by")
    inlines = [HeldEmailInline]
    actions = ["clear_marks"]

    @admin.action(description=_("Clear the selected marks (send automatic e-mail again)"))
    def clear_marks(self, request: HttpRequest, queryset: QuerySet[BounceMark]) -> None:
        rows = list(queryset.filter(cleared_at__isnull=True))
        for row in rows:
            bounces.clear(row, actor=request.user)
        self.message_user(request, ngettext("%(num)s mark cleared.", "%(num)s marks cleared.",
                                            len(rows)) % {"num": len(rows)}, messages.SUCCESS)


@admin.register(CustomerMailPreference)
class CustomerMailPreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "all_email", "status_updates", "reminders", "incident_updates",
                    "updated_at")
    list_filter = ("all_email", "status_updates", "reminders", "incident_updates")
    search_fields = ("user__username", "user__email")
    raw_id_fields = ("user",)


class NoticePreviewForm(forms.Form):
    key = forms.ChoiceField(label=_("Notice"))
    ticket = forms.IntegerField(label=_("Ticket id"), min_value=1)
    template = forms.ModelChoiceField(
        NoticeTemplate.objects.all(), required=False, label=_("Wording"),
        help_text=_("Empty: what the ticket's team would get (its wording, the global one or "
                    "the shipped default)."))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["key"].choices = [(k, k) for k in default_keys()
                                      if k.startswith("customer.")]


def preview_notice(key: str, ticket: Ticket, template: NoticeTemplate | None = None
                   ) -> RenderedNotice:
    """A notice rendered for a real ticket, as its requester would get it; event values
    the ticket does not have (a merge, an incident) are filled with examples."""
    message = (Message.objects.filter(ticket=ticket, is_public=True, by_agent=True)
               .order_by("-created_at", "-pk").first())
    row = OutboundEmail(notice=key, ticket=ticket, ticket_message=message,
                        kind="reply" if key == "customer.reply" else "notice",
                        context={"user": ticket.requester_id, "merged_into": ticket.pk,
                                 "reminder_number": 1,
                                 "auto_resolve_days": waiting.auto_resolve_days(),
                                 "tickets": [ticket.pk],
                                 "incident_title": gettext("Example incident"),
                                 "update_text": gettext("Example update: engineers are on it."),
                                 "status_url": "https://status.example"})
    values = notices.notice_values(row)
    if template is not None:
        return render_wording(Wording(template.subject, template.body_text,
                                      template.body_html), values)
    return render_notice(key, values, team_id=ticket.team_id)


@admin.register(TeamSender)
class TeamSenderAdmin(admin.ModelAdmin):
    list_display = ("team", "sender_name")
    change_list_template = "admin/mailgate/teamsender/change_list.html"

    def get_urls(self) -> list:
        view = self.admin_site.admin_view(self.preview_view)
        return [path("preview/", view, name="mailgate_notice_preview"), *super().get_urls()]

    def preview_view(self, request: HttpRequest) -> HttpResponse:
        """Admin → Team senders → Preview a notice: a template against a real ticket."""
        if not request.user.has_perm("helpdesk.view_noticetemplate"):
            raise PermissionDenied
        form = NoticePreviewForm(request.GET or None)
        rendered = None
        if form.is_valid():
            ticket = Ticket.objects.filter(pk=form.cleaned_data["ticket"]).first()
            if ticket is None:
                form.add_error("ticket", _("No such ticket."))
            else:
                rendered = preview_notice(form.cleaned_data["key"], ticket,
                                          form.cleaned_data["template"])
        return TemplateResponse(request, "admin/mailgate/notice_preview.html", {
            **self.admin_site.each_context(request), "title": _("Preview a customer notice"),
            "form": form, "rendered": rendered, "opts": self.model._meta})

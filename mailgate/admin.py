"""Admin: mailboxes (configuration), the inbound log (read-only), quarantine with a retry
action, the outbox filtered by delivery status, and bouncing addresses with a clear action."""
from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from . import bounces, outbound, services
from .models import (
    BounceMark,
    HeldEmail,
    InboundMessage,
    Mailbox,
    OutboundEmail,
    OutboundStatus,
    Quarantine,
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
                  "description": "The password is read from the named environment variable; "
                                 "it is never stored in the database."}),
        ("Inbound webhook", {"fields": ("webhook_token_env",)}),
        ("New tickets", {"fields": ("allow_new_customers", "default_team", "default_priority")}),
        ("Polling state", {"fields": ("last_polled_at", "last_uid", "uid_validity",
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

    @admin.display(description="error")
    def short_error(self, obj: Quarantine) -> str:
        lines = [line for line in obj.error.strip().splitlines() if line.strip()]
        return lines[-1][:120] if lines else ""

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser

    @admin.action(description="Retry ingest of the selected messages")
    def retry_ingest(self, request: HttpRequest, queryset: QuerySet[Quarantine]) -> None:
        done = failed = 0
        for row in queryset.filter(resolved_at__isnull=True):
            outcome = services.retry_quarantined(row)
            if outcome is None:
                failed += 1
            else:
                done += 1
        if done:
            self.message_user(request, f"{done} message(s) ingested.", messages.SUCCESS)
        if failed:
            self.message_user(request, f"{failed} message(s) still fail; see the error.",
                              messages.WARNING)


@admin.register(OutboundEmail)
class OutboundEmailAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "kind", "to", "subject", "status", "attempts", "sent_at",
                    "ticket")
    list_filter = ("status", "kind")
    search_fields = ("key", "message_id", "to", "subject")
    list_select_related = ("ticket",)
    raw_id_fields = ("ticket", "ticket_message", "mailbox")
    actions = ["requeue"]

    @admin.action(description="Send the selected failed e-mails again")
    def requeue(self, request: HttpRequest, queryset: QuerySet[OutboundEmail]) -> None:
        rows = list(queryset.filter(status=OutboundStatus.FAILED))
        for row in rows:
            outbound.retry_outbound(row, actor=request.user)
        self.message_user(request, f"{len(rows)} e-mail(s) queued again "
                                   f"({timezone.now():%H:%M}).")


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

    @admin.action(description="Clear the selected marks (send automatic e-mail again)")
    def clear_marks(self, request: HttpRequest, queryset: QuerySet[BounceMark]) -> None:
        rows = list(queryset.filter(cleared_at__isnull=True))
        for row in rows:
            bounces.clear(row, actor=request.user)
        self.message_user(request, f"{len(rows)} mark(s) cleared.", messages.SUCCESS)

"""Privacy requests: export (built by Celery, downloaded once) and erasure (a second admin
approves). Every step writes an audit entry; none names the person."""
from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from helpdesk.models import AuditEntry, User

from .models import PrivacyRequest
from .tasks import build_export_task, erase_task

PERM = "privacy.handle_privacy_requests"


def _check(actor: User) -> None:
    if not actor.has_perm(PERM):
        raise PermissionDenied(_("Only privacy admins handle export and erasure requests."))


def _audit(request: PrivacyRequest, actor: User | None, action: str, what: str) -> None:
    with translation.override(None):  # stored: the English label, not the admin's language
        kind = str(request.get_kind_display())
    AuditEntry.objects.create(
        actor=actor, actor_label=f"user #{actor.pk}" if actor else "system", action=action,
        model="privacy.PrivacyRequest", object_id=str(request.pk),
        object_repr=f"{kind} of {request.subject_label}",
        changes={"state": [None, what], "subject": [None, request.subject_label]})


def request_export(*, subject: User, actor: User, reason: str = "") -> PrivacyRequest:
    """Queue an export of `subject`; the ZIP is built by a worker."""
    _check(actor)
    with transaction.atomic():
        request = PrivacyRequest.objects.create(
            kind=PrivacyRequest.Kind.EXPORT, state=PrivacyRequest.State.QUEUED,
            subject=subject, subject_label=f"user #{subject.pk}", requested_by=actor,
            reason=reason[:200])
        _audit(request, actor, AuditEntry.Action.EXPORT, "requested")
        transaction.on_commit(lambda: build_export_task.delay(request.pk))
    return request


def take_download(request: PrivacyRequest, *, actor: User) -> str:
    """Mark the export downloaded (once) and return its storage name; the caller streams
    the file and deletes it."""
    with transaction.atomic():
        locked = PrivacyRequest.objects.select_for_update().get(pk=request.pk)
        if locked.state != PrivacyRequest.State.READY or not locked.file:
            raise ValidationError(_("This export has already been downloaded or has expired."))
        locked.state = PrivacyRequest.State.DOWNLOADED
        locked.downloaded_at = timezone.now()
        name, locked.file = locked.file, ""
        locked.save(update_fields=["state", "downloaded_at", "file"])
        _audit(locked, actor, AuditEntry.Action.EXPORT, "downloaded")
    return name


def request_erasure(*, subject: User, actor: User, reason: str = "") -> PrivacyRequest:
    """Ask for an erasure; nothing happens until a second admin approves."""
    _check(actor)
    if subject.pk == actor.pk:
        raise ValidationError(_("You cannot ask for your own erasure here."))
    if subject.username.startswith("erased-user-") and not subject.is_active:
        raise ValidationError(_("This person has already been erased."))
    with transaction.atomic():
        request = PrivacyRequest.objects.create(
            kind=PrivacyRequest.Kind.ERASURE, state=PrivacyRequest.State.AWAITING_APPROVAL,
            subject=subject, subject_label=f"user #{subject.pk}", requested_by=actor,
            reason=reason[:200])
        _audit(request, actor, AuditEntry.Action.ERASE, "requested")
    return request


def approve_erasure(request: PrivacyRequest, *, approver: User) -> PrivacyRequest:
    """A second privacy admin approves; the erasure then runs on a worker."""
    _check(approver)
    with transaction.atomic():
        locked = PrivacyRequest.objects.select_for_update().get(pk=request.pk)
        if locked.kind != PrivacyRequest.Kind.ERASURE \
                or locked.state != PrivacyRequest.State.AWAITING_APPROVAL:
            raise ValidationError(_("This request is not waiting for approval."))
        if locked.requested_by_id == approver.pk:
            raise ValidationError(_("A second admin must approve: not the one who asked."))
        locked.approved_by = approver
        locked.state = PrivacyRequest.State.QUEUED
        locked.save(update_fields=["approved_by", "state"])
        _audit(locked, approver, AuditEntry.Action.ERASE, "approved")
        transaction.on_commit(lambda: erase_task.delay(locked.pk))
    return locked

"""What the privacy tasks do: build an export, erase a person, expire old exports.

Apart from services.py so that the services can queue the tasks without an import cycle
(services -> tasks -> jobs).
"""
from __future__ import annotations

from django.core.files.storage import default_storage
from django.utils import timezone

from .erasure import erase_person
from .export import build_export
from .models import PrivacyRequest


def run_export(request_id: int) -> None:
    """Build the ZIP (idempotent: a request already claimed or built is left alone; an
    export whose worker died stays "running": ask for a new one)."""
    # Claimed in one UPDATE: of two deliveries of the message, one builds, one returns.
    claimed = PrivacyRequest.objects.filter(
        pk=request_id, state=PrivacyRequest.State.QUEUED).update(
        state=PrivacyRequest.State.RUNNING)
    if not claimed:
        return
    request = PrivacyRequest.objects.get(pk=request_id)

    def progress(percent: int) -> None:
        PrivacyRequest.objects.filter(pk=request.pk).update(progress=percent)

    try:
        name = build_export(request, progress)
    except Exception as exc:
        PrivacyRequest.objects.filter(pk=request.pk).update(
            state=PrivacyRequest.State.FAILED, error=str(exc)[:2000])
        raise
    PrivacyRequest.objects.filter(pk=request.pk).update(
        state=PrivacyRequest.State.READY, progress=100, file=name,
        finished_at=timezone.now())


def expire_exports(older_than) -> int:
    """Exports nobody fetched in time: the file goes, the request says so."""
    count = 0
    for request in PrivacyRequest.objects.filter(state=PrivacyRequest.State.READY,
                                                 finished_at__lt=older_than):
        default_storage.delete(request.file)
        PrivacyRequest.objects.filter(pk=request.pk).update(
            state=PrivacyRequest.State.EXPIRED, file="")
        count += 1
    return count


def run_erasure(request_id: int) -> None:
    claimed = PrivacyRequest.objects.filter(
        pk=request_id, state=PrivacyRequest.State.QUEUED, approved_by__isnull=False).update(
        state=PrivacyRequest.State.RUNNING)
    if not claimed:
        return  # done already, being done, or never approved
    request = PrivacyRequest.objects.get(pk=request_id)
    try:
        erase_person(request)  # one transaction: on failure nothing was erased
    except Exception as exc:
        PrivacyRequest.objects.filter(pk=request.pk).update(
            state=PrivacyRequest.State.QUEUED, error=str(exc)[:2000])
        raise
    PrivacyRequest.objects.filter(pk=request.pk).update(
        state=PrivacyRequest.State.DONE, progress=100, finished_at=timezone.now())

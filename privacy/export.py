"""Export of everything the helpdesk holds about one person (GDPR Art. 15 and 20), as a ZIP.

JSON of their profile, the tickets they filed or were copied on with every public message
and the custom values customers see (internal notes and fields are the staff's, not
theirs), surveys, help-center searches and votes,
notifications, and their attachments as files. Built by a Celery task that reports progress.
"""
from __future__ import annotations

import json
import uuid
import zipfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from helpdesk.models import Notification, User
from knowledge.models import ArticleVote, SearchLog
from tickets import custom_fields as cf
from tickets import field_definitions
from tickets.models import Attachment, Message, Survey, Ticket

from .models import PrivacyRequest

EXPORT_DIR = "privacy-exports"
SALT = "privacy.export.download"


def _json(data: Any) -> str:
    return json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)


def _profile(user: User) -> dict[str, Any]:
    return {
        "id": user.pk, "username": user.username, "first_name": user.first_name,
        "last_name": user.last_name, "email": user.email,
        "organization": str(user.organization) if user.organization_id else None,
        "date_joined": user.date_joined, "last_login": user.last_login,
        "time_zone": user.time_zone, "roles": [g.name for g in user.groups.all()],
    }


def _tickets(user: User) -> list[dict[str, Any]]:
    # Filed by them, copied to them, or where they wrote (a colleague's ticket they joined).
    tickets = Ticket.objects.filter(
        models.Q(pk__in=Ticket.objects.filter(requester=user).values("pk"))
        | models.Q(pk__in=user.cc_tickets.values("pk"))
        | models.Q(pk__in=Message.objects.filter(author=user).values("ticket_id"))
    ).order_by("created_at")
    out = []
    for t in tickets.iterator(chunk_size=200):
        messages = Message.objects.filter(ticket=t).filter(
            models.Q(is_public=True) | models.Q(author=user)).order_by("created_at")
        out.append({
            "id": t.pk, "subject": t.subject, "you_filed_it": t.requester_id == user.pk,
            "description": t.description,
            "status": t.status, "created_at": t.created_at, "closed_at": t.closed_at,
            "custom_fields": _custom_values(t),
            "messages": [{
                "id": m.pk, "at": m.created_at, "written_by_you": m.author_id == user.pk,
                "from": "you" if m.author_id == user.pk else "support",
                "body": m.body, "channel": m.channel,
            } for m in messages],
        })
    return out


def _custom_values(ticket: Ticket) -> dict[str, dict[str, Any]]:
    """The ticket's custom values customers see, as the portal shows them (internal
    fields are the staff's, as internal notes are)."""
    fields = field_definitions.by_key()
    values = field_definitions.visible_values(ticket.custom_fields or {}, customer=True)
    names = field_definitions.link_names(
        (fields[k].field_type, v) for k, v in values.items() if fields[k].field_type in cf.LINKS)
    return {k: {"label": fields[k].label, "value": v,
                "shown": cf.shown(fields[k], v, names=names)} for k, v in values.items()}


def _attachments(user: User) -> models.QuerySet[Attachment]:
    return Attachment.objects.filter(
        models.Q(message__author=user)
        | models.Q(message__ticket__requester=user, message__is_public=True,
                   sender_only=False)).select_related("message")


def build_export(request: PrivacyRequest,
                 progress: Callable[[int], None] = lambda percent: None) -> str:
    """Write the ZIP under MEDIA_ROOT/privacy-exports/ and return its storage name."""
    user = request.subject
    name = f"{EXPORT_DIR}/{uuid.uuid4().hex}.zip"
    path = Path(settings.MEDIA_ROOT) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("profile.json", lambda: _profile(user)),
        ("tickets.json", lambda: _tickets(user)),
        ("surveys.json", lambda: list(Survey.objects.filter(requester=user).values(
            "ticket_id", "status", "rating", "nps", "comment", "sent_at", "responded_at"))),
        ("help_center_searches.json", lambda: list(SearchLog.objects.filter(
            visit__user=user).values("query", "created_at", "result_count"))),
        ("help_center_votes.json", lambda: list(ArticleVote.objects.filter(user=user).values(
            "article__title", "helpful", "reason", "comment", "created_at"))),
        ("notifications.json", lambda: list(Notification.objects.filter(
            recipient=user).values("title", "body", "url", "created_at", "read_at"))),
    ]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for done, (filename, build) in enumerate(steps, start=1):
            archive.writestr(filename, _json(build()))
            progress(int(done * 80 / len(steps)))
        attachments = list(_attachments(user))
        for i, attachment in enumerate(attachments, start=1):
            try:
                with default_storage.open(attachment.file.name, "rb") as fh:
                    archive.writestr(
                        f"attachments/{attachment.message.ticket_id}/{attachment.pk}-"
                        f"{attachment.filename}", fh.read())
            except OSError:
                continue  # a file lost from storage: the rest of the export still goes
            progress(80 + int(i * 19 / len(attachments)))
    return name



def download_token(request: PrivacyRequest) -> str:
    return signing.TimestampSigner(salt=SALT).sign(str(request.pk))


def request_for_token(token: str) -> PrivacyRequest | None:
    """The export a signed link points to, if the link is genuine and not too old."""
    max_age = timedelta(hours=settings.PRIVACY_EXPORT_TTL_HOURS)
    try:
        pk = signing.TimestampSigner(salt=SALT).unsign(token, max_age=max_age)
    except signing.BadSignature:
        return None
    return PrivacyRequest.objects.filter(pk=int(pk), kind=PrivacyRequest.Kind.EXPORT).first()


def expires_at(request: PrivacyRequest):
    return (request.finished_at or timezone.now()) + timedelta(
        hours=settings.PRIVACY_EXPORT_TTL_HOURS)

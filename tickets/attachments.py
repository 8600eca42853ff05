"""Attachment limits: size, count and type, checked before anything is stored."""
from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.text import get_valid_filename


def validate_uploads(files: Sequence[UploadedFile]) -> None:
    limit = settings.HELPDESK_MAX_ATTACHMENTS_PER_MESSAGE
    if len(files) > limit:
        raise ValidationError(f"At most {limit} attachments per message.")
    allowed = {ext.lower() for ext in settings.HELPDESK_ALLOWED_ATTACHMENT_EXTENSIONS}
    max_bytes = settings.HELPDESK_MAX_ATTACHMENT_BYTES
    for f in files:
        ext = PurePath(f.name or "").suffix.lower().lstrip(".")
        if ext not in allowed:
            raise ValidationError(
                f"“{f.name}”: files of type .{ext or '?'} are not accepted. "
                f"Allowed: {', '.join(sorted(allowed))}."
            )
        if f.size is None or f.size > max_bytes:
            raise ValidationError(
                f"“{f.name}” is larger than the {max_bytes // (1024 * 1024)} MB limit."
            )


def safe_filename(name: str) -> str:
    cleaned = get_valid_filename(PurePath(name or "file").name)[:200]
    return cleaned or "file"


def guess_content_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"

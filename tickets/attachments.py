"""Attachment limits: size, count and type, checked before anything is stored."""
from __future__ import annotations

import mimetypes
import re
from collections.abc import Sequence
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _


def validate_uploads(files: Sequence[UploadedFile], *, max_count: int | None = None) -> None:
    """Refuse the whole set if one file breaks a limit. `max_count` replaces the per-message
    count for channels that cannot ask the sender to split (an e-mail arrives whole)."""
    limit = max_count or settings.HELPDESK_MAX_ATTACHMENTS_PER_MESSAGE
    if len(files) > limit:
        raise ValidationError(_("At most %(limit)s attachments per message.") % {"limit": limit})
    allowed = {ext.lower() for ext in settings.HELPDESK_ALLOWED_ATTACHMENT_EXTENSIONS}
    max_bytes = settings.HELPDESK_MAX_ATTACHMENT_BYTES
    for f in files:
        ext = PurePath(f.name or "").suffix.lower().lstrip(".")
        if ext not in allowed:
            raise ValidationError(
                _("“%(name)s”: files of type .%(ext)s are not accepted. Allowed: %(allowed)s.")
                % {"name": f.name, "ext": ext or "?", "allowed": ", ".join(sorted(allowed))}
            )
        if f.size is None or f.size > max_bytes:
            raise ValidationError(
                _("“%(name)s” is larger than the %(mb)s MB limit.")
                % {"name": f.name, "mb": max_bytes // (1024 * 1024)}
            )


MAX_FILENAME_LENGTH = 200
_UNSAFE_CHARACTERS = re.compile(r"[^-\w.]")  # as django.utils.text.get_valid_filename


def _clean(text: str) -> str:
    return _UNSAFE_CHARACTERS.sub("", text.strip().replace(" ", "_"))


def safe_filename(name: str) -> str:
    """The name a file is stored and offered under: no directory, only letters, digits,
    `-`, `_` and `.` (no control or direction-override characters), no leading dot, at
    most 200 characters. A long name is cut in its stem, never in its extension, so the
    stored name keeps the extension validate_uploads checked (`a…a.exe…b.txt` cannot end
    up as `a…a.exe`)."""
    base = PurePath(name or "").name
    suffix = PurePath(base).suffix if base else ""
    if len(suffix) > 20:  # not an extension anyone checks: part of the name
        suffix = ""
    stem = _clean(base[: len(base) - len(suffix)]).strip(".")
    suffix = _clean(suffix)
    return (stem[: MAX_FILENAME_LENGTH - len(suffix)] or "file") + suffix


def guess_content_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"

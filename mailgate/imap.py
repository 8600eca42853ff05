"""IMAP polling: fetch what arrived since the last UID and ingest each message once.

The folder is opened read-only and bodies are fetched with BODY.PEEK, so the mailbox
is left as it was (nothing marked read or deleted); progress is the stored last UID,
reset when the server's UIDVALIDITY changes (the Message-ID dedupe absorbs re-fetches).
"""
from __future__ import annotations

import contextlib
import imaplib
import logging
import re
import ssl

from django.core.cache import cache
from django.utils import timezone

from . import services
from .models import Mailbox

logger = logging.getLogger(__name__)

BATCH = 200  # messages per run; the rest come with the next beat
TIMEOUT = 30
POLL_LOCK_SECONDS = 300  # longer than a batch takes; a crashed run frees it by expiry


def connect(mailbox: Mailbox) -> imaplib.IMAP4:
    if mailbox.imap_tls:
        conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(
            mailbox.imap_host, mailbox.imap_port, ssl_context=ssl.create_default_context(),
            timeout=TIMEOUT)
    else:
        conn = imaplib.IMAP4(mailbox.imap_host, mailbox.imap_port, timeout=TIMEOUT)
    conn.login(mailbox.username or mailbox.address, mailbox.password())
    return conn


def _uid_validity(conn: imaplib.IMAP4) -> int:
    _, data = conn.response("UIDVALIDITY")
    value = data[0] if data and data[0] else b"0"
    return int(value)


def _raw_of(fetched: list) -> bytes | None:
    for item in fetched or []:
        if isinstance(item, tuple) and len(item) >= 2 and isinstance(item[1], bytes):
            return item[1]
    return None


def poll(mailbox: Mailbox, *, limit: int = BATCH) -> int:
    """Ingest new messages of one mailbox; returns how many were handled.

    A message that fails is quarantined by `services.ingest`; a connection error is
    recorded on the mailbox and the next run starts again from the last UID.
    """
    handled = 0
    try:
        conn = connect(mailbox)
    except (OSError, imaplib.IMAP4.error) as exc:
        _record(mailbox, error=f"Cannot connect: {exc}")
        return 0
    try:
        typ, _ = conn.select(_quote(mailbox.folder), readonly=True)
        if typ != "OK":
            _record(mailbox, error=f"Cannot open folder {mailbox.folder!r}")
            return 0
        validity = _uid_validity(conn)
        last_uid = mailbox.last_uid if validity == mailbox.uid_validity else 0
        typ, data = conn.uid("SEARCH", None, f"UID {last_uid + 1}:*")
        # "n:*" always matches the highest UID, even below n: filter.
        uids = sorted(u for u in (int(x) for x in (data[0] or b"").split()) if u > last_uid)
        for uid in uids[:limit]:
            typ, fetched = conn.uid("FETCH", str(uid), "(BODY.PEEK[])")
            raw = _raw_of(fetched) if typ == "OK" else None
            if raw is None:
                logger.warning("Mailbox %s: UID %s could not be fetched", mailbox.name, uid)
                break  # try again next run, from this UID
            services.ingest(raw, mailbox)
            handled += 1
            last_uid = uid
            Mailbox.objects.filter(pk=mailbox.pk).update(last_uid=uid, uid_validity=validity)
        mailbox.last_uid, mailbox.uid_validity = last_uid, validity
        _record(mailbox, error="")
    except (OSError, imaplib.IMAP4.error) as exc:
        _record(mailbox, error=f"IMAP error: {exc}")
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            conn.logout()
    return handled


def active_mailbox_ids() -> list[int]:
    """The mailboxes to poll: active, with an IMAP server."""
    return list(Mailbox.objects.filter(is_active=True).exclude(imap_host="")
                .values_list("pk", flat=True))


def poll_one(mailbox_id: int) -> int:
    """Poll one mailbox if it is still active; an overlapping run of the same mailbox
    steps aside (the Message-ID dedupe would absorb it anyway, this saves the double
    fetch)."""
    mailbox = Mailbox.objects.filter(pk=mailbox_id, is_active=True).first()
    if mailbox is None:
        return 0
    lock = f"mailgate:poll:{mailbox_id}"
    if not cache.add(lock, 1, timeout=POLL_LOCK_SECONDS):
        return 0
    try:
        return poll(mailbox)
    finally:
        cache.delete(lock)


def _quote(folder: str) -> str:
    return folder if re.fullmatch(r"[A-Za-z0-9_./-]+", folder) else \
        '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _record(mailbox: Mailbox, *, error: str) -> None:
    mailbox.last_polled_at = timezone.now()
    mailbox.last_error = error
    Mailbox.objects.filter(pk=mailbox.pk).update(last_polled_at=mailbox.last_polled_at,
                                                 last_error=error)
    if error:
        logger.warning("Mailbox %s: %s", mailbox.name, error)

"""Loop detection: auto-replies, bounces, mailing lists and our own mail never make tickets.

Pure rules over parsed headers (RFC 3834 Auto-Submitted, Precedence, vendor headers,
RFC 3464 delivery reports, the null return path), so they are cheap to test exhaustively.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from .parsing import ParsedMessage

_BOUNCE_SENDERS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|bounces?)([+@-]|$)", re.I)
_AUTO_SUBJECT = re.compile(
    r"^\s*(auto(matic)?[ -]?(reply|response)|out of (the )?office|abwesenheitsnotiz|"
    r"r[ée]ponse automatique|undeliverable|undelivered mail|delivery status notification|"
    r"mail delivery (failed|failure|subsystem))\b",
    re.I,
)


def loop_reason(msg: ParsedMessage, *, own_addresses: Iterable[str] = ()) -> str:
    """Why this message must not create a ticket or a reply, or "" when it may."""
    h = msg.headers
    auto = h.get("auto-submitted", "").strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    precedence = h.get("precedence", "").strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"Precedence: {precedence}"
    for name in ("x-autoreply", "x-autorespond"):
        if name in h:
            return f"{name} header"
    if "x-auto-response-suppress" in h and _AUTO_SUBJECT.match(msg.subject):
        return "Outlook automatic reply"
    if "list-id" in h or "list-unsubscribe" in h:
        return "mailing list message"
    if "x-failed-recipients" in h or msg.is_multipart_report \
            or "report-type=delivery-status" in h.get("content-type", "").lower():
        return "delivery status notification (bounce)"
    if "return-path" in h and h["return-path"].strip() in ("<>", ""):
        return "null Return-Path <> (bounce or auto-reply)"
    if _BOUNCE_SENDERS.match(msg.from_address):
        return f"sent by {msg.from_address}"
    own = {a.strip().lower() for a in own_addresses if a}
    if msg.from_address in own:
        return "sent from one of our own addresses"
    if "x-loop" in h and any(a in h["x-loop"].lower() for a in own):
        return "X-Loop names our address"
    if _AUTO_SUBJECT.match(msg.subject):
        return "automatic reply (subject)"
    return ""

"""Delivery reports (bounces) and automatic replies: recognised and read (pure).

Bounces are recognised by content type (RFC 3464 `multipart/report`), by sender
(MAILER-DAEMON, postmaster, the null return path `<>`) and by the wording of the mail
systems that send no report (qmail, old Exchange); the per-recipient status comes from the
report's fields, else from the text. Automatic replies are RFC 3834 `Auto-Submitted:
auto-replied` mail, vendor headers, out-of-office subjects and read receipts (RFC 8098).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import message as email_message
from email.parser import HeaderParser
from email.utils import getaddresses
from enum import StrEnum

from .parsing import ParsedMessage, header, message_ids, report_text


class Kind(StrEnum):
    BOUNCE = "bounce"
    AUTO_REPLY = "auto_reply"


@dataclass(frozen=True)
class Recipient:
    """One recipient a delivery report speaks of."""

    address: str  # as we sent to it (Original-Recipient), else Final-Recipient
    action: str  # failed, delayed, delivered, relayed, expanded ("" when not said)
    status: str  # RFC 3463, e.g. "5.1.1" ("" when not said)
    diagnostic: str = ""
    final_address: str = ""

    @property
    def failed(self) -> bool:
        return self.action == "failed" or (not self.action and self.status.startswith("5"))

    @property
    def delayed(self) -> bool:
        return self.action == "delayed" or (not self.action and self.status.startswith("4"))

    @property
    def addresses(self) -> list[str]:
        return [a for a in dict.fromkeys((self.address, self.final_address)) if a]


@dataclass(frozen=True)
class Report:
    kind: Kind
    label: str  # "Delivery report", "Automatic reply", "Read receipt"
    recipients: list[Recipient] = field(default_factory=list)
    original_ids: list[str] = field(default_factory=list)  # the message it answers
    text: str = ""  # what the mail system or the person wrote, for the note

    @property
    def failed(self) -> list[Recipient]:
        return [r for r in self.recipients if r.failed]

    @property
    def delayed(self) -> list[Recipient]:
        return [r for r in self.recipients if r.delayed]


# --- recognising ----------------------------------------------------------------------

_DAEMON = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon)(@|$)", re.I)
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(undeliverable|undelivered mail|undeliverable mail|delivery status notification"
    r"|delivery (has )?failed|mail delivery (failed|failure|subsystem)|failure notice"
    r"|returned mail|delivery failure|non[- ]?delivery|message not delivered"
    r"|delayed mail|delivery delayed|warning: could not send)", re.I)
_BOUNCE_TEXT = re.compile(
    r"(This is the qmail-send program|could not be delivered to one or more recipients"
    r"|The following addresses had permanent fatal errors|did not reach some or all of the "
    r"intended recipients|Delivery has failed to these recipients)", re.I)
_AUTO_SUBJECT = re.compile(
    r"^\s*(auto(matic)?[ -]?(reply|response|antwort)|out of (the )?office|abwesenheitsnotiz"
    r"|r[ée]ponse automatique|respuesta autom[aá]tica|risposta automatica|on vacation"
    r"|away from (the )?office)\b", re.I)


def _report_type(parsed: ParsedMessage) -> str:
    ctype = parsed.headers.get("content-type", "").lower()
    match = re.search(r"report-type\s*=\s*\"?([a-z-]+)", ctype)
    return match.group(1) if match else ""


def classify(parsed: ParsedMessage) -> Kind | None:
    """BOUNCE for a delivery failure or delay report, AUTO_REPLY for an out-of-office or
    read receipt, None for mail a person wrote."""
    h = parsed.headers
    msg = parsed.message
    report_type = _report_type(parsed)
    if report_type == "delivery-status" or "x-failed-recipients" in h or (
            msg is not None and any(p.get_content_type() == "message/delivery-status"
                                    for p in msg.walk())):
        return Kind.BOUNCE
    if report_type == "disposition-notification":
        return Kind.AUTO_REPLY
    daemon = not parsed.from_address or bool(_DAEMON.match(parsed.from_address))
    null_sender = h.get("return-path", "x").strip() in ("<>", "")
    if (daemon or null_sender) and (_BOUNCE_SUBJECT.match(parsed.subject)
                                    or _BOUNCE_TEXT.search(parsed.text)):
        return Kind.BOUNCE
    if daemon and "x-ms-exchange-message-is-ndr" in (msg.keys() if msg is not None else []):
        return Kind.BOUNCE
    auto = h.get("auto-submitted", "").strip().lower()
    if auto.startswith("auto-replied") or any(n in h for n in ("x-autoreply", "x-autorespond")) \
            or h.get("precedence", "").strip().lower() == "auto_reply" \
            or _AUTO_SUBJECT.match(parsed.subject) or (null_sender and not daemon):
        return Kind.AUTO_REPLY
    return None


# --- reading --------------------------------------------------------------------------

_STATUS_RE = re.compile(r"(?<![\d.])#?([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_SMTP_CODE = re.compile(r"(?<!\d)([45])\d\d(?=[ -])")
_ANGLE_ADDRESS = re.compile(r"^\s*<([^<>\s]+@[^<>\s]+)>:?\s*$")
_ADDRESS = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_QUOTED_MSGID = re.compile(r"^(?:X-Original-)?Message-ID:\s*(<[^<>\s]+>)", re.I | re.M)


def status_of(text: str) -> str:
    """The first RFC 3463 status in `text`, else one from an SMTP reply code."""
    match = _STATUS_RE.search(text or "")
    if match:
        return ".".join(match.groups())
    code = _SMTP_CODE.search(text or "")
    return f"{code.group(1)}.0.0" if code else ""


def _address(field_value: str) -> str:
    """`rfc822; user@example.com` -> user@example.com."""
    value = field_value.split(";", 1)[-1].strip().strip("<>").strip()
    return value.lower() if "@" in value else ""


def _dsn_recipients(part: email_message.Message) -> tuple[list[Recipient], list[str]]:
    blocks = [b for b in (part.get_payload() if part.is_multipart() else [])
              if isinstance(b, email_message.Message)]
    if not blocks:  # not parsed into field blocks: read the text
        blocks = [HeaderParser().parsestr(chunk) for chunk in
                  re.split(r"\n\s*\n", report_text(part)) if chunk.strip()]
    recipients, ids = [], []
    for block in blocks:
        for name in ("X-Original-Message-ID", "Original-Message-ID"):
            ids += message_ids(str(block.get(name, "")))
        final = _address(str(block.get("Final-Recipient", "")))
        original = _address(str(block.get("Original-Recipient", "")))
        if not (final or original):
            continue
        diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
        diagnostic = diagnostic.split(";", 1)[-1].strip() if ";" in diagnostic[:12] \
            else diagnostic
        status = status_of(str(block.get("Status", ""))) or status_of(diagnostic)
        recipients.append(Recipient(
            address=original or final, final_address=final,
            action=(str(block.get("Action", "")).lower().split() or [""])[0],
            status=status, diagnostic=diagnostic))
    return recipients, ids


def _original_ids(msg: email_message.Message) -> list[str]:
    """Message-IDs of the returned message: its attached copy or headers."""
    ids: list[str] = []
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822" and part.is_multipart():
            inner = part.get_payload()[0]
            ids += message_ids(header(inner, "Message-ID"))
        elif ctype == "text/rfc822-headers":
            data = part.get_payload(decode=True) or b""
            ids += message_ids(str(HeaderParser().parsestr(
                data.decode("utf-8", "replace")).get("Message-ID", "")))
    return ids


def _original_recipients(msg: email_message.Message) -> list[str]:
    for part in msg.walk():
        if part.get_content_type() == "message/rfc822" and part.is_multipart():
            inner = part.get_payload()[0]
            return [a.lower() for _, a in getaddresses(
                [header(inner, n) for n in ("To", "Cc")]) if "@" in a]
    return []


def _text_recipients(text: str) -> list[Recipient]:
    """qmail, sendmail and Exchange texts: `<user@host>:` followed by the reason."""
    recipients: list[Recipient] = []
    lines = text.split("\n")
    for i, line in enumerate(lines):
        match = _ANGLE_ADDRESS.match(line)
        if not match:
            continue
        reason = []
        for following in lines[i + 1:]:
            if not following.strip() or _ANGLE_ADDRESS.match(following):
                break
            reason.append(following.strip())
        diagnostic = " ".join(reason)
        recipients.append(Recipient(address=match.group(1).lower(), action="",
                                    status=status_of(diagnostic) or status_of(text),
                                    diagnostic=diagnostic))
    return recipients


def _permanent(text: str) -> bool:
    return not re.search(r"(temporary|will be retried|warning only|still trying|delayed)",
                         text, re.I)


def read(parsed: ParsedMessage) -> Report | None:
    """What a bounce or automatic reply says; None for mail a person wrote."""
    kind = classify(parsed)
    if kind is None:
        return None
    msg = parsed.message
    own_text = "\n\n".join(b.text for b in parsed.blocks if b.own and not b.heading).strip()
    if kind == Kind.AUTO_REPLY:
        receipt = _report_type(parsed) == "disposition-notification"
        ids = []
        if msg is not None:
            for part in msg.walk():
                if part.get_content_type() == "message/disposition-notification":
                    ids += message_ids(_field(report_text(part), "Original-Message-ID"))
        return Report(kind, "Read receipt" if receipt else "Automatic reply",
                      original_ids=ids + (_original_ids(msg) if msg is not None else []),
                      text=parsed.reply_text if not receipt else own_text)
    recipients: list[Recipient] = []
    ids: list[str] = []
    if msg is not None:
        for part in msg.walk():
            if part.get_content_type() == "message/delivery-status":
                found, found_ids = _dsn_recipients(part)
                recipients += found
                ids += found_ids
        ids += _original_ids(msg)
    text = parsed.text
    if not recipients:
        recipients = _text_recipients(text)
    if not recipients:  # Exchange 2003 names people, not addresses: use the copy's To
        status = status_of(text)
        targets = (_original_recipients(msg) if msg is not None else []) or [
            a.lower() for a in _ADDRESS.findall(parsed.headers.get("x-failed-recipients", ""))]
        recipients = [Recipient(address=a, action="", status=status) for a in targets]
    if not ids:
        ids = message_ids(" ".join(_QUOTED_MSGID.findall(text)))
    permanent = _permanent(text)
    recipients = [r if r.action or r.status else
                  Recipient(r.address, "", "5.0.0" if permanent else "4.0.0", r.diagnostic,
                            r.final_address) for r in recipients]
    return Report(kind, "Delivery report", recipients=recipients,
                  original_ids=list(dict.fromkeys(ids)), text=own_text)


def _field(text: str, name: str) -> str:
    match = re.search(rf"^{re.escape(name)}:\s*(.+)$", text, re.I | re.M)
    return match.group(1) if match else ""


# --- wording --------------------------------------------------------------------------

# RFC 3463 subject.detail codes (and the few vendor ones mail servers commonly send).
_STATUS_TEXT = {
    "1.0": "bad address", "1.1": "user unknown", "1.2": "domain not found",
    "1.3": "bad address syntax", "1.4": "ambiguous address", "1.6": "mailbox moved",
    "1.10": "recipient not found",
    "2.0": "mailbox problem", "2.1": "mailbox disabled", "2.2": "mailbox full",
    "2.3": "message too large for the mailbox", "2.4": "mailing list expansion problem",
    "3.0": "mail system problem", "3.1": "mail system full", "3.2": "system not accepting mail",
    "3.4": "message too large",
    "4.0": "routing problem", "4.1": "no answer from host", "4.2": "connection dropped",
    "4.3": "directory server failure", "4.4": "unable to route", "4.6": "routing loop",
    "4.7": "delivery time expired",
    "5.0": "protocol error", "5.3": "too many recipients",
    "6.0": "content not accepted",
    "7.0": "refused by policy", "7.1": "delivery not authorised", "7.26": "sender not verified",
}


def describe(status: str) -> str:
    """`5.1.1` -> `5.1.1 user unknown`."""
    if not status:
        return "no status given"
    klass, _, detail = status.partition(".")
    meaning = _STATUS_TEXT.get(detail) or {"2": "delivered", "4": "temporary failure",
                                            "5": "permanent failure"}.get(klass, "")
    return f"{status} {meaning}".strip()

"""Parse one raw RFC 5322 message into what a ticket needs (pure: stdlib email + nh3).

`parse(raw)` never guesses silently: a message it cannot read raises `ParseError`,
which the ingestion service turns into a quarantine row.
"""
from __future__ import annotations

import hashlib
import html as html_lib
import re
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr

import nh3

# Header values we keep for loop detection, lower-cased names.
LOOP_HEADERS = (
    "auto-submitted", "precedence", "x-autoreply", "x-autorespond", "x-auto-response-suppress",
    "return-path", "list-id", "list-unsubscribe", "x-loop", "x-failed-recipients",
    "content-type",
)


class ParseError(Exception):
    """The message cannot be turned into a ticket; it goes to quarantine."""


@dataclass(frozen=True)
class ParsedAttachment:
    filename: str
    content_type: str
    payload: bytes
    inline: bool = False
    content_id: str = ""


@dataclass
class ParsedMessage:
    message_id: str
    subject: str
    from_name: str
    from_address: str
    to: list[str]
    cc: list[str]
    in_reply_to: list[str]
    references: list[str]
    text: str  # the whole body as text (customer's part preferred over HTML)
    html: str  # sanitised HTML part, "" when none
    headers: dict[str, str]  # loop-relevant headers, lower-case names
    attachments: list[ParsedAttachment] = field(default_factory=list)
    is_multipart_report: bool = False
    has_plain: bool = True  # False: the text was derived from the HTML part

    @property
    def reply_text(self) -> str:
        """What the customer wrote this time: quoted history and signature stripped."""
        return strip_quoted(self.text)


# --- headers --------------------------------------------------------------------------

_MSGID_RE = re.compile(r"<([^<>\s]+)>")


def message_ids(value: str | None) -> list[str]:
    """Message-IDs in a header (In-Reply-To, References), without angle brackets."""
    if not value:
        return []
    found = _MSGID_RE.findall(str(value))
    if not found and str(value).strip() and " " not in str(value).strip():
        found = [str(value).strip()]  # some clients omit the brackets
    return found


def normalise_msgid(value: str) -> str:
    return value.strip().strip("<>").strip()


def _no_nul(text: str) -> str:
    # NUL is not text (RFC 5322 forbids it), yet broken mailers send it, raw or encoded
    # (=00, base64); PostgreSQL refuses it in text columns. Dropped, so such a mail still
    # becomes a ticket, the same on every database.
    return text.replace("\x00", "")


def _header(msg: EmailMessage, name: str) -> str:
    """A header as text; a malformed header falls back to its raw value, never raises."""
    try:
        value = msg.get(name)
    except Exception:  # defects in encoded words: keep the raw text
        raw = msg.get_all(name, failobj=[]) if hasattr(msg, "get_all") else []
        value = raw[0] if raw else ""
    return "" if value is None else _no_nul(str(value))


def _addresses(msg: EmailMessage, name: str) -> list[str]:
    values = [_no_nul(str(v)) for v in (msg.get_all(name) or [])]
    return [a.lower() for _, a in getaddresses(values) if a and "@" in a]


def _sender(msg: EmailMessage) -> tuple[str, str]:
    try:
        header = msg["From"]
        addresses: tuple[Address, ...] = getattr(header, "addresses", ())
        if addresses:
            return (_no_nul(addresses[0].display_name or ""),
                    _no_nul(addresses[0].addr_spec.lower()))
    except Exception:  # noqa: S110 - fall back to the lenient parser below
        pass
    name, addr = parseaddr(_header(msg, "From"))
    return name, addr.lower()


# --- bodies ---------------------------------------------------------------------------

def _decode_text(part: EmailMessage) -> str:
    """The text of a part in any charset; unknown charsets fall back to a lossy decode."""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, AssertionError, KeyError):
        payload = part.get_payload(decode=True) or b""
        charset = part.get_content_charset() or "utf-8"
        for candidate in (charset, "utf-8", "windows-1252"):
            try:
                return payload.decode(candidate)
            except (LookupError, UnicodeDecodeError):
                continue
        return payload.decode("utf-8", errors="replace")
    if isinstance(content, bytes):
        return content.decode(part.get_content_charset() or "utf-8", errors="replace")
    return str(content)


def sanitise_html(html: str) -> str:
    """Safe HTML: nh3's allow-list, no scripts, styles, event handlers or remote tricks."""
    return nh3.clean(html, tags=nh3.ALLOWED_TAGS - {"img"}, link_rel="noopener noreferrer")


_BLOCK_RE = re.compile(r"<\s*(br|/p|/div|/ul|/ol|/tr|/h[1-6]|/blockquote|hr)\b[^>]*>", re.I)
_LI_RE = re.compile(r"<\s*li\b[^>]*>", re.I)
_TAG_RE = re.compile(r"<[^>]+>")


def html_to_text(html: str) -> str:
    """Readable text from (sanitised) HTML: blocks become lines, entities decoded."""
    cleaned = nh3.clean(html, tags=nh3.ALLOWED_TAGS)  # drops <style>/<script> with contents
    text = _LI_RE.sub("\n- ", cleaned)
    text = _BLOCK_RE.sub("\n", text)
    text = _TAG_RE.sub("", text)
    text = html_lib.unescape(text).replace("\xa0", " ")
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _body_parts(msg: EmailMessage) -> tuple[str, str, bool]:
    """(text, html) of the message: the plain part the customer wrote, else HTML as text."""
    text_part = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    html = sanitise_html(_decode_text(html_part)) if html_part is not None else ""
    if text_part is not None:
        text = _decode_text(text_part)
    elif html_part is not None:
        text = html_to_text(_decode_text(html_part))
    else:
        text = ""
    return text.replace("\r\n", "\n").strip(), html, text_part is not None


def _attachments(msg: EmailMessage, bodies: set[int]) -> list[ParsedAttachment]:
    out = []
    for part in msg.walk():
        if part.is_multipart() or id(part) in bodies:
            continue
        disposition = part.get_content_disposition()
        ctype = part.get_content_type()
        filename = part.get_filename() or ""
        if disposition is None and not filename:
            if ctype.startswith("text/"):
                continue  # an alternative body we did not pick
            if ctype.startswith("message/delivery-status"):
                continue
        if ctype == "message/rfc822":
            inner = part.get_payload()
            inner_msg = inner[0] if isinstance(inner, list) and inner else inner
            payload = inner_msg.as_bytes(policy=policy.SMTP) if inner_msg is not None else b""
            filename = filename or "forwarded-message.eml"
        else:
            payload = part.get_payload(decode=True) or b""
        if not filename:
            ext = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif"}.get(ctype, "bin")
            filename = f"inline-{len(out) + 1}.{ext}"
        cid = normalise_msgid(str(part.get("Content-ID") or ""))
        out.append(ParsedAttachment(
            filename=_no_nul(filename), content_type=ctype, payload=payload,
            inline=disposition == "inline" or bool(cid) and disposition != "attachment",
            content_id=cid,
        ))
    return out


def synthetic_message_id(raw: bytes) -> str:
    """A stable id for a message without Message-ID, so a second fetch is still a duplicate."""
    return f"sha256-{hashlib.sha256(raw).hexdigest()[:40]}@no-message-id.invalid"


def parse(raw: bytes) -> ParsedMessage:
    """Parse raw bytes; raises ParseError for anything that is not a usable e-mail."""
    if not raw or not raw.strip():
        raise ParseError("The message is empty.")
    try:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
    except Exception as exc:  # the parser is lenient; this is truly unreadable input
        raise ParseError(f"Unreadable message: {exc}") from exc
    if not msg.keys():
        raise ParseError("The message has no headers.")
    from_name, from_address = _sender(msg)
    if not from_address or "@" not in from_address:
        raise ParseError("The message has no valid From address.")
    try:
        text, html, has_plain = _body_parts(msg)
        text, html = _no_nul(text), _no_nul(html)
        body_ids = {id(p) for p in (msg.get_body(preferencelist=("plain",)),
                                     msg.get_body(preferencelist=("html",))) if p is not None}
        attachments = _attachments(msg, body_ids)
    except Exception as exc:
        raise ParseError(f"The body cannot be decoded: {exc}") from exc
    msgids = message_ids(_header(msg, "Message-ID"))
    headers = {name: _header(msg, name) for name in LOOP_HEADERS if msg.get(name) is not None}
    return ParsedMessage(
        message_id=msgids[0] if msgids else synthetic_message_id(raw),
        subject=" ".join(_header(msg, "Subject").split()),
        from_name=from_name,
        from_address=from_address,
        to=_addresses(msg, "To") + _addresses(msg, "Delivered-To"),
        cc=_addresses(msg, "Cc"),
        in_reply_to=message_ids(_header(msg, "In-Reply-To")),
        references=message_ids(_header(msg, "References")),
        text=text,
        html=html,
        headers=headers,
        attachments=attachments,
        is_multipart_report=msg.get_content_type() == "multipart/report",
        has_plain=has_plain,
    )


# --- quoted history and signatures ----------------------------------------------------

# A line that starts the quoted history: everything from it on is dropped.
_QUOTE_STARTS = [
    re.compile(r"^\s*On\b.{0,300}\bwrote:\s*$", re.I),  # Gmail, Apple Mail, Thunderbird
    re.compile(r"^\s*Le\b.{0,300}\ba écrit\s*:\s*$", re.I),
    re.compile(r"^\s*Am\b.{0,300}\bschrieb\b.{0,100}:\s*$", re.I),
    re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$", re.I),
    re.compile(r"^\s*-{2,}\s*Ursprüngliche Nachricht\s*-{2,}\s*$", re.I),
    re.compile(r"^\s*_{10,}\s*$"),  # Outlook's rule above the header block
    re.compile(r"^\s*Sent from my (iPhone|iPad|Android|mobile|Galaxy|BlackBerry)\b.*$", re.I),
    re.compile(r"^\s*Get Outlook for (iOS|Android)\s*$", re.I),
]
# Outlook's header block: "From: ..." followed within a few lines by "Sent:" / "Date:".
_FROM_LINE = re.compile(r"^\s*\*?(From|De|Von)\s*:\*?\s*\S", re.I)
_SENT_LINE = re.compile(r"^\s*\*?(Sent|Date|Envoyé|Gesendet)\s*:\*?\s*\S", re.I)
_SIGNATURE = re.compile(r"^-- ?$")
# "On Tue, 3 Mar 2026 at 10:02, Someone <x@y>" may wrap before "wrote:".
_WRAPPED_ON = re.compile(r"^\s*On\b.{0,200}$", re.I)


def _quote_start(lines: list[str], i: int) -> bool:
    line = lines[i]
    if any(p.match(line) for p in _QUOTE_STARTS):
        return True
    if _WRAPPED_ON.match(line) and i + 1 < len(lines) \
            and re.match(r"^.{0,200}\bwrote:\s*$", lines[i + 1], re.I):
        return True
    if _FROM_LINE.match(line):
        window = lines[i + 1:i + 4]
        return any(_SENT_LINE.match(x) for x in window)
    return False


def strip_quoted(text: str) -> str:
    """Drop quoted history ("On ... wrote:", Outlook blocks, "> " lines) and the signature.

    Keeps the text above the first marker; interleaved answers below "> " lines are kept
    (only the quoted lines go). If stripping would leave nothing, the text is kept whole.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        if _SIGNATURE.match(line) or _quote_start(lines, i):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    result = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    return result or text.strip()


_FORWARD_RE = re.compile(r"^\s*(fwd?|fw|wg|tr)\s*:", re.I)
_REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|antw|r|fwd?|fw|wg|tr)\s*(\[\d+\])?\s*:\s*)+", re.I)


def is_forward(subject: str) -> bool:
    return bool(_FORWARD_RE.match(subject or ""))


def clean_subject(subject: str) -> str:
    """The subject without Re:/Fwd: prefixes (for a new ticket's title)."""
    return _REPLY_PREFIX.sub("", subject or "").strip()

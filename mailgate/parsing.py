"""Parse one raw RFC 5322 message into what a ticket needs (pure: stdlib email, chardet, nh3).

`parse(raw)` keeps every part: each text part becomes a block of the body, in order (a
forwarded or digested message under a divider with its From, Date and Subject), each
other part a file with a decoded or derived name. It parses with the modern policy and
falls back to `compat32` where that recovers more (old Outlook's unquoted boundaries).
A message it cannot read raises `ParseError`, which ingestion turns into a quarantine row.
"""
from __future__ import annotations

import codecs
import hashlib
import html as html_lib
import mimetypes
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email import message as email_message
from email import policy
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from pathlib import PureWindowsPath

import chardet
import nh3

# Header values we keep for loop detection, lower-cased names.
LOOP_HEADERS = (
    "auto-submitted", "precedence", "x-autoreply", "x-autorespond", "x-auto-response-suppress",
    "return-path", "list-id", "list-unsubscribe", "x-loop", "x-failed-recipients",
    "content-type",
)
BODY_SUBTYPES = ("plain", "html", "enriched")  # text/* shown as text; other text/* are files
REPORT_TYPES = ("message/delivery-status", "message/disposition-notification",
                "message/feedback-report", "text/rfc822-headers")


class ParseError(Exception):
    """The message cannot be turned into a ticket; it goes to quarantine."""


@dataclass(frozen=True)
class ParsedAttachment:
    filename: str
    content_type: str
    payload: bytes
    inline: bool = False
    content_id: str = ""


@dataclass(frozen=True)
class TextBlock:
    """One text part, or the header line of a nested message (`heading`, no text)."""

    text: str
    own: bool = True  # written by the sender of this message (not forwarded or attached)
    heading: str = ""
    from_html: bool = False

    def render(self) -> str:
        return f"{self.heading}\n\n{self.text}".strip() if self.heading else self.text


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
    text: str  # every text part, in order (nested messages under their divider)
    html: str  # sanitised HTML of the first HTML part, "" when none
    headers: dict[str, str]  # loop-relevant headers, lower-case names
    attachments: list[ParsedAttachment] = field(default_factory=list)
    is_multipart_report: bool = False
    has_plain: bool = True  # False: some text was derived from an HTML part
    blocks: list[TextBlock] = field(default_factory=list)
    # Parts that could not be read at all (kept only in the original message).
    unreadable: list[str] = field(default_factory=list)
    nested: bool = False  # holds forwarded or digested messages
    message: email_message.Message | None = field(default=None, repr=False, compare=False)

    @property
    def reply_text(self) -> str:
        """What the customer wrote this time: quoted history and signature stripped from
        their own text; forwarded and attached messages are kept whole."""
        if not self.blocks:
            return strip_quoted(self.text)
        parts = [strip_quoted(b.text) if b.own and not b.heading else b.render()
                 for b in self.blocks]
        return _join(parts)

    @property
    def shown_whole(self) -> bool:
        """True when the text is the message itself: plain text parts only, nothing nested,
        nothing unreadable. Otherwise the ticket keeps the original beside it."""
        return self.has_plain and not self.nested and not self.unreadable


# --- charsets -------------------------------------------------------------------------

# Labels mail clients write that Python does not know, or knows by a narrower table.
_CHARSET_ALIASES = {
    "iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "us-ascii": "ascii",
    "iso-8859-8-i": "iso-8859-8", "iso-8859-6-i": "iso-8859-6", "x-mac-roman": "mac_roman",
    "macintosh": "mac_roman", "ks_c_5601-1987": "cp949", "gb2312": "gb18030",
    "gbk": "gb18030", "x-gbk": "gb18030", "big5": "big5hkscs", "x-sjis": "cp932",
    "shift_jis": "cp932", "shift-jis": "cp932", "windows-31j": "cp932", "x-euc-jp": "euc_jp",
    "windows-874": "cp874", "tis-620": "cp874", "utf8": "utf-8", "unicode-1-1-utf-7": "utf-7",
}
_UNKNOWN = {"unknown", "unknown-8bit", "x-unknown", "x-user-defined", "default", "8bit"}
_SINGLE_BYTE = re.compile(r"^(ascii|cp125\d|cp874|cp437|cp850|iso-?8859|latin|koi8|mac)", re.I)
_SURROGATES = re.compile("[\udc80-\udcff]")


def codec(label: str | None) -> str | None:
    """Python's codec for a MIME charset label, or None when unknown or meaningless."""
    name = (label or "").strip().strip("\"'").lower()
    if not name or name in _UNKNOWN:
        return None
    for candidate in (_CHARSET_ALIASES.get(name, name), name.removeprefix("x-")):
        try:
            return codecs.lookup(candidate).name
        except LookupError:
            continue
    return None


def decode_bytes(data: bytes, declared: str | None = None, hints: Iterable[str] = ()) -> str:
    """Text from bytes: the declared charset when the bytes fit it, else UTF-8 when they
    are UTF-8 (often labelled Latin-1 or nothing), else a charset seen elsewhere in the
    message, else what chardet detects; never an exception."""
    if not data:
        return ""
    if data.isascii():
        return data.decode("ascii")
    charset = codec(declared)
    if charset is None or _SINGLE_BYTE.match(charset):
        try:  # UTF-8 bytes essentially never form valid UTF-8 by accident in other charsets
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    if charset in (None, "ascii"):
        # Mostly UTF-8 with a few broken bytes (a cut-off or mangled header): the readable
        # part stays readable, the broken bytes become U+FFFD, no guessing another charset.
        mostly = data.decode("utf-8", errors="replace")
        broken = mostly.count("\ufffd")
        readable = sum(1 for ch in mostly if ord(ch) > 127) - broken
        if readable and readable * 2 >= broken:
            return mostly
    if charset is not None and charset != "ascii":
        try:
            return data.decode(charset)
        except UnicodeDecodeError:
            pass
    detected = chardet.detect(data)
    guess = codec(detected.get("encoding"))
    confident = (detected.get("confidence") or 0) >= 0.2
    for candidate in ([guess] if confident else []) + [codec(h) for h in hints] + [guess]:
        if candidate and candidate != "ascii":
            try:
                return data.decode(candidate)
            except UnicodeDecodeError:
                continue
    return data.decode("cp1252", errors="replace")


def _unmangle(text: str, hints: Iterable[str] = ()) -> str:
    """Raw 8-bit bytes in a header reach us as surrogates: decode them for real."""
    if not _SURROGATES.search(text):
        return text
    return decode_bytes(text.encode("utf-8", "surrogateescape"), None, hints)


def _no_nul(text: str) -> str:
    # NUL is not text (RFC 5322 forbids it), yet broken mailers send it, raw or encoded
    # (=00, base64); PostgreSQL refuses it in text columns. Dropped, so such a mail still
    # becomes a ticket, the same on every database.
    return text.replace("\x00", "")


_ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?[QqBb]\?")


def decode_words(value: str) -> str:
    """RFC 2047 encoded words anywhere in `value` (also where RFC 2047 does not allow
    them, such as quoted file names)."""
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except (LookupError, UnicodeError, ValueError, AssertionError):
        return value


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


def _unfold(text: str) -> str:
    return re.sub(r"\r?\n[ \t]+", " ", text).strip()


def header(msg: email_message.Message, name: str, hints: Iterable[str] = ()) -> str:
    """A header as text, encoded words and raw 8-bit bytes decoded; never raises."""
    raw = _raw_header(msg, name.lower())
    if isinstance(msg, email_message.EmailMessage) and not _SURROGATES.search(raw):
        try:
            value = msg.get(name)
            return "" if value is None else _no_nul(str(value))
        except Exception:  # noqa: S110 - defects in encoded words: decode the raw text
            pass
    return _no_nul(decode_words(_unfold(_unmangle(raw, hints))))


def _addresses(msg: email_message.Message, name: str) -> list[str]:
    values = [_no_nul(_unmangle(str(v))) for v in (msg.get_all(name) or [])]
    return [a.lower() for _, a in getaddresses(values) if a and "@" in a]


def _sender(msg: email_message.Message, hints: Iterable[str]) -> tuple[str, str]:
    if not _SURROGATES.search(_raw_header(msg, "from")):
        try:
            addresses: tuple[Address, ...] = getattr(msg["From"], "addresses", ())
            if addresses and "@" in addresses[0].addr_spec:
                return (_no_nul(addresses[0].display_name or ""),
                        _no_nul(addresses[0].addr_spec.lower()))
        except Exception:  # noqa: S110 - fall back to the lenient parser below
            pass
    name, addr = parseaddr(_unfold(_unmangle(_raw_header(msg, "from"), hints)))
    return _no_nul(decode_words(name)), _no_nul(addr.lower())


def _raw_header(part: email_message.Message, name: str) -> str:
    for key, value in part.raw_items():
        if key.lower() == name:
            return str(value)
    return ""


# --- bodies ---------------------------------------------------------------------------

def sanitise_html(html: str) -> str:
    """Safe HTML: nh3's allow-list, no scripts, styles, event handlers or remote tricks."""
    return nh3.clean(html, tags=nh3.ALLOWED_TAGS - {"img"}, link_rel="noopener noreferrer")


_BLOCK_RE = re.compile(r"<\s*(br|/p|/div|/ul|/ol|/tr|/h[1-6]|/blockquote|hr)\b[^>]*>", re.I)
_CELL_RE = re.compile(r"<\s*/t[dh]\s*>", re.I)
_LI_RE = re.compile(r"<\s*li\b[^>]*>", re.I)
_TAG_RE = re.compile(r"<[^>]+>")


def html_to_text(html: str) -> str:
    """Readable text from (sanitised) HTML: blocks become lines, entities decoded."""
    cleaned = nh3.clean(html, tags=nh3.ALLOWED_TAGS)  # drops <style>/<script> with contents
    text = _LI_RE.sub("\n- ", cleaned)
    text = _BLOCK_RE.sub("\n", text)
    text = _CELL_RE.sub(" ", text)
    text = _TAG_RE.sub("", text)
    text = html_lib.unescape(text).replace("\xa0", " ")
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


_ENRICHED_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*>")


def enriched_to_text(text: str) -> str:
    """RFC 1896 text/enriched: formatting commands dropped, `<<` is a literal `<`."""
    text = _ENRICHED_TAG.sub("", text).replace("<<", "<")
    return re.sub(r"\n{3,}", "\n\n", text)


def unflow(text: str, *, delsp: bool) -> str:
    """RFC 3676 format=flowed: soft line breaks (a trailing space) joined again."""
    out: list[str] = []
    carry = ""
    for line in text.split("\n"):
        if line.startswith(" "):
            line = line[1:]  # space-stuffing
        if line.endswith(" ") and line != "-- ":
            carry += line[:-1] if delsp else line
            continue
        out.append(carry + line)
        carry = ""
    if carry:
        out.append(carry)
    return "\n".join(out)


def _join(parts: Iterable[str]) -> str:
    return "\n\n".join(p.strip() for p in parts if p and p.strip())


_EXTENSIONS = {
    "image/jpeg": "jpg", "image/pjpeg": "jpg", "image/png": "png", "image/gif": "gif",
    "image/webp": "webp", "application/pdf": "pdf", "text/plain": "txt", "text/csv": "csv",
    "application/json": "json", "application/xml": "xml", "text/xml": "xml",
    "application/zip": "zip", "application/gzip": "gz", "application/x-gzip": "gz",
    "message/rfc822": "eml", "text/html": "html", "text/calendar": "ics",
    "application/x-yaml": "yaml", "text/yaml": "yaml",
}
_BUILTIN_TYPES = mimetypes.MimeTypes()  # Python's own table, not the machine's mime.types


def extension_for(content_type: str) -> str:
    known = _EXTENSIONS.get(content_type)
    if known:
        return known
    guessed = _BUILTIN_TYPES.guess_extension(content_type) or ""
    return guessed.lstrip(".") or "bin"


@dataclass
class _Walk:
    """What a walk over the MIME tree collected."""

    hints: list[str]
    blocks: list[TextBlock] = field(default_factory=list)
    files: list[ParsedAttachment] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    html: str = ""
    from_html: bool = False
    nested: bool = False

    @property
    def weight(self) -> tuple[int, int]:
        return (len(self.blocks) + len(self.files),
                sum(len(b.text) for b in self.blocks) + sum(len(f.payload) for f in self.files))


def _disposition(part: email_message.Message) -> str:
    return _raw_header(part, "content-disposition").split(";")[0].strip().lower()


def filename_of(part: email_message.Message, hints: Iterable[str] = ()) -> str:
    """The part's file name in any of the forms mail clients write: RFC 2231 (with
    continuations and charsets), RFC 2047 inside quotes, unquoted with spaces, or only
    as the Content-Type `name`; without directories."""
    legacy = email_message.Message()  # compat32 reads unquoted names with spaces whole
    for name in ("content-disposition", "content-type"):
        raw = _raw_header(part, name)
        if raw:
            legacy[name] = raw
    try:
        name = legacy.get_filename() or ""
    except (LookupError, UnicodeError, ValueError):
        name = ""
    name = decode_words(_unmangle(str(name), hints)).strip().strip('"').strip()
    return _no_nul(PureWindowsPath(name).name if name else "")  # also cuts C:\x\ and a/b/


def _text_of(part: email_message.Message, walk: _Walk) -> str:
    payload = part.get_payload(decode=True)
    if payload is None:
        payload = str(part.get_payload()).encode("utf-8", "surrogateescape")
    text = decode_bytes(payload, part.get_content_charset(), walk.hints)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if part.get_param("format", "", header="content-type").lower() == "flowed":
        text = unflow(text, delsp=part.get_param("delsp", "", header="content-type")
                      .lower() == "yes")
    return _no_nul(text)


def _is_body(part: email_message.Message, walk: _Walk) -> bool:
    maintype, subtype = part.get_content_maintype(), part.get_content_subtype()
    body_type = (maintype == "text" and subtype in BODY_SUBTYPES) \
        or part.get_content_type() in REPORT_TYPES or maintype == "multipart"
    return body_type and _disposition(part) != "attachment" and not filename_of(part, walk.hints)


def _add_text(part: email_message.Message, walk: _Walk, *, own: bool) -> None:
    text = _text_of(part, walk)
    subtype = part.get_content_subtype()
    from_html = subtype == "html" and part.get_content_maintype() == "text"
    if from_html:
        walk.html = walk.html or sanitise_html(text)
        text = html_to_text(text)
        walk.from_html = True
    elif subtype == "enriched":
        text = enriched_to_text(text)
        walk.from_html = True  # formatting dropped: keep the original beside it
    if text.strip():
        walk.blocks.append(TextBlock(text.strip("\n"), own=own, from_html=from_html))


def _add_file(part: email_message.Message, walk: _Walk) -> None:
    ctype = part.get_content_type()
    try:
        payload = part.get_payload(decode=True) or b""
    except Exception:  # a part Python cannot decode at all: only the original keeps it
        walk.unreadable.append(ctype)
        return
    ext = extension_for(ctype)
    name = filename_of(part, walk.hints)
    if not name:
        name = f"attachment-{len(walk.files) + 1}.{ext}"
    elif "." not in name.strip(".") and ext != "bin":
        name = f"{name}.{ext}"  # "scan" sent as application/pdf: offered as scan.pdf
    cid = normalise_msgid(_raw_header(part, "content-id"))
    disposition = _disposition(part)
    walk.files.append(ParsedAttachment(
        filename=name, content_type=ctype, payload=payload,
        inline=disposition == "inline" or bool(cid) and disposition != "attachment",
        content_id=cid))


def _choose_alternative(parts: list[email_message.Message],
                        walk: _Walk) -> email_message.Message | None:
    """The alternative to show: plain text when it says something, else the richest (the
    last, RFC 2046). A plain stub beside a long HTML part ("view this mail in a browser")
    loses to the HTML."""
    plain = next((p for p in parts if p.get_content_type() == "text/plain"
                  and _is_body(p, walk)), None)
    html = next((p for p in parts if p.get_content_type() == "text/html"
                 and _is_body(p, walk)), None)
    plain_text = _text_of(plain, walk) if plain is not None else ""
    if plain is not None and re.search(r"\w", plain_text):
        if html is None or len(html_to_text(_text_of(html, walk))) <= 3 * len(plain_text) + 500:
            return plain
        return html
    return parts[-1] if parts else None


def _nested_heading(inner: email_message.Message, hints: list[str]) -> str:
    lines = ["---", "", "**Attached message**"]
    for name in ("From", "Date", "Subject"):
        value = header(inner, name, hints)
        if value:
            lines.append(f"{name}: {' '.join(value.split())}")
    return "\n".join(lines)


def report_text(part: email_message.Message) -> str:
    """A delivery or disposition report part (blocks of fields) as text."""
    payload = part.get_payload()
    if isinstance(payload, list):
        blocks = ["\n".join(f"{k}: {_unfold(str(v))}" for k, v in block.raw_items())
                  for block in payload if isinstance(block, email_message.Message)]
        return _no_nul(_unmangle("\n\n".join(blocks)))
    data = part.get_payload(decode=True) or b""
    return _no_nul(decode_bytes(data, part.get_content_charset()))


def _visit(part: email_message.Message, walk: _Walk, *, own: bool) -> None:
    ctype = part.get_content_type()
    if ctype in REPORT_TYPES and _disposition(part) != "attachment":
        text = report_text(part)
        if text.strip():
            walk.blocks.append(TextBlock(text.strip(), own=False))
        return
    if ctype == "message/rfc822" or (part.is_multipart()
                                     and part.get_content_maintype() == "message"):
        inner = part.get_payload()
        inner = inner[0] if isinstance(inner, list) and inner else inner
        if not isinstance(inner, email_message.Message):  # e.g. a base64-encoded message
            data = part.get_payload(decode=True) or b""
            inner = BytesParser(policy=policy.compat32).parsebytes(data) if data else None
        if inner is None:
            walk.unreadable.append(ctype)
            return
        walk.nested = True
        walk.blocks.append(TextBlock("", own=False, heading=_nested_heading(inner, walk.hints)))
        _visit(inner, walk, own=False)
        return
    if part.is_multipart():
        children = [p for p in part.get_payload() if isinstance(p, email_message.Message)]
        if ctype == "multipart/alternative":
            chosen = _choose_alternative(children, walk)
            for child in children:
                if child is chosen:
                    _visit(child, walk, own=own)
                else:
                    _files_only(child, walk)
            return
        for child in children:
            _visit(child, walk, own=own)
        return
    if _is_body(part, walk):
        _add_text(part, walk, own=own)
    else:
        _add_file(part, walk)


def _files_only(part: email_message.Message, walk: _Walk) -> None:
    """The files of an alternative we do not show (images of its HTML, say)."""
    if part.is_multipart() and part.get_content_maintype() == "multipart":
        for child in part.get_payload():
            _files_only(child, walk)
    elif not _is_body(part, walk):
        _add_file(part, walk)


def _declared_charsets(msg: email_message.Message) -> list[str]:
    """Charsets the message names anywhere (parts, encoded words): hints for the parts and
    headers that name none."""
    seen: list[str] = []
    for part in msg.walk():
        for _, value in part.raw_items():
            seen += _ENCODED_WORD.findall(str(value))
        charset = part.get_param("charset", header="content-type")
        if isinstance(charset, str):
            seen.append(charset)
    out: list[str] = []
    for label in seen:
        name = codec(label)
        if name and name not in ("ascii", "utf-8") and name not in out:
            out.append(name)
    return out


def _walk(msg: email_message.Message) -> _Walk:
    walk = _Walk(hints=_declared_charsets(msg))
    _visit(msg, walk, own=True)
    return walk


def _has_defects(msg: email_message.Message) -> bool:
    return any(p.defects for p in msg.walk()) or any(
        p.get_content_maintype() == "multipart" and not p.is_multipart() for p in msg.walk())


def synthetic_message_id(raw: bytes) -> str:
    """A stable id for a message without Message-ID, so a second fetch is still a duplicate."""
    return f"sha256-{hashlib.sha256(raw).hexdigest()[:40]}@no-message-id.invalid"


_TRACE_HEADERS = re.compile(
    rb"^(received|return-path|delivered-to|x-original-to|x-received|authentication-results|"
    rb"arc-[a-z-]+|received-spf|x-spam[a-z-]*|dkim-signature|x-google-smtp-source|"
    rb"x-ms-exchange-[a-z-]+|x-forwarded-[a-z-]+|x-envelope-[a-z-]+)\s*:", re.I)


def content_hash(raw: bytes) -> str:
    """What makes two deliveries the same message: its bytes without the trace headers
    that each hop adds (Received, Delivered-To, DKIM and spam verdicts...), line endings
    normalised. A re-delivery has the same hash; another message under a reused
    Message-ID does not."""
    data = raw.replace(b"\r\n", b"\n")
    head, sep, body = data.partition(b"\n\n")
    kept, skipping = [], False
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):  # a folded continuation of the previous header
            if not skipping:
                kept.append(line)
            continue
        skipping = bool(_TRACE_HEADERS.match(line))
        if not skipping:
            kept.append(line)
    return hashlib.sha256(b"\n".join(kept) + sep + body.rstrip()).hexdigest()


def _looks_like_report(msg: email_message.Message) -> bool:
    """A delivery report or notice from a mail system may have no usable From."""
    ctype = msg.get_content_type()
    sender = str(msg.get("From", "")).lower()
    return (ctype == "multipart/report" or str(msg.get("Return-Path", "")).strip() == "<>"
            or "mailer-daemon" in sender or "postmaster" in sender
            or msg.get("X-Failed-Recipients") is not None)


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
    try:
        walk = _walk(msg)
        if _has_defects(msg):
            legacy = BytesParser(policy=policy.compat32).parsebytes(raw)
            legacy_walk = _walk(legacy)
            if legacy_walk.weight > walk.weight:
                walk = legacy_walk
    except Exception as exc:
        raise ParseError(f"The body cannot be decoded: {exc}") from exc
    hints = walk.hints + [h for h in (codec(msg.get_content_charset()),) if h]
    from_name, from_address = _sender(msg, hints)
    if (not from_address or "@" not in from_address) and not _looks_like_report(msg):
        raise ParseError("The message has no valid From address.")
    msgids = message_ids(header(msg, "Message-ID"))
    headers = {name: header(msg, name, hints) for name in LOOP_HEADERS
               if msg.get(name) is not None}
    return ParsedMessage(
        message_id=msgids[0] if msgids else synthetic_message_id(raw),
        subject=" ".join(header(msg, "Subject", hints).split()),
        from_name=from_name,
        from_address=from_address if "@" in from_address else "",
        to=_addresses(msg, "To") + _addresses(msg, "Delivered-To"),
        cc=_addresses(msg, "Cc"),
        in_reply_to=message_ids(header(msg, "In-Reply-To")),
        references=message_ids(header(msg, "References")),
        text=_join(b.render() for b in walk.blocks),
        html=_no_nul(walk.html),
        headers=headers,
        attachments=walk.files,
        is_multipart_report=msg.get_content_type() == "multipart/report",
        has_plain=not walk.from_html,
        blocks=walk.blocks,
        unreadable=walk.unreadable,
        nested=walk.nested,
        message=msg,
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

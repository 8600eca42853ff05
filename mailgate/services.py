"""Email channel, inbound: mail into tickets, replies, and notes for delivery reports.

`ingest` never raises: whatever goes wrong, the raw message ends up either as an
`InboundMessage` (ticket, reply, a note for a bounce or automatic reply, or ignored with a
reason) or in `Quarantine` with the error, so a poller or a webhook can always move on to
the next message. Every text part reaches the ticket; what it cannot show is in the
original message attached beside it (for agents, and for the customer who sent it).
"""
from __future__ import annotations

import hashlib
import logging
import re
import traceback
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import PurePath

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from helpdesk.models import User
from helpdesk.services import register_customer
from tickets import services as ticket_services
from tickets.models import Channel, Message, Ticket
from tickets.selectors import visible_tickets
from tickets.state_machine import Status

from . import bounces, loops, parsing, reports
from .models import (
    InboundMessage,
    InboundStatus,
    Mailbox,
    OutboundEmail,
    Quarantine,
)

logger = logging.getLogger(__name__)


def max_message_bytes() -> int:
    return int(getattr(settings, "MAILGATE_MAX_MESSAGE_BYTES", 25 * 1024 * 1024))


def max_attachments() -> int:
    """Files kept from one e-mail: a mail cannot be sent back to be split, so more than a
    web form allows (the message size limit bounds them too)."""
    return int(getattr(settings, "MAILGATE_MAX_ATTACHMENTS", 50))


def token_prefix() -> str:
    return str(getattr(settings, "MAILGATE_TOKEN_PREFIX", "HD"))


def ticket_token(ticket_id: int) -> str:
    return f"[{token_prefix()}-{ticket_id}]"


def _token_re() -> re.Pattern[str]:
    return re.compile(rf"\[(?:{re.escape(token_prefix())}-|#)(\d{{1,12}})\]", re.I)


def own_addresses() -> set[str]:
    """Addresses that are us: mail from them is a loop."""
    own = {a.lower() for a in Mailbox.objects.values_list("address", flat=True)}
    for value in (settings.DEFAULT_FROM_EMAIL, settings.SERVER_EMAIL):
        addr = parseaddr(value)[1]
        if addr:
            own.add(addr.lower())
    return own


# --- inbound --------------------------------------------------------------------------

@dataclass(frozen=True)
class IngestResult:
    status: str  # an InboundStatus value, or "quarantined"
    inbound: InboundMessage | None = None
    quarantine: Quarantine | None = None
    duplicate: bool = False

    @property
    def ticket(self) -> Ticket | None:
        return self.inbound.ticket if self.inbound else None


def ingest(raw: bytes, mailbox: Mailbox | None = None) -> IngestResult:
    """Turn one raw message into a ticket or a reply, at most once per Message-ID."""
    try:
        return _ingest(raw, mailbox)
    except Exception:
        logger.exception("Inbound message could not be ingested; quarantined")
        return quarantine(raw, mailbox, error=traceback.format_exc())


def quarantine(raw: bytes, mailbox: Mailbox | None, *, error: str) -> IngestResult:
    """Keep a message we could not ingest, with the error; the same bytes are kept once."""
    digest = hashlib.sha256(raw).hexdigest()
    existing = Quarantine.objects.filter(sha256=digest, resolved_at__isnull=True).first()
    if existing is not None:
        return IngestResult(InboundStatus.QUARANTINED, quarantine=existing, duplicate=True)
    row = Quarantine(mailbox=mailbox, sha256=digest, size=len(raw), error=error[:20000],
                     received_at=timezone.now())
    row.raw.save(f"{digest[:32]}.eml", ContentFile(raw), save=False)
    row.save()
    return IngestResult(InboundStatus.QUARANTINED, quarantine=row)


def _ingest(raw: bytes, mailbox: Mailbox | None) -> IngestResult:
    limit = max_message_bytes()
    if len(raw) > limit:
        return quarantine(raw, mailbox, error=f"The message is {len(raw)} bytes; the limit "
                                              f"is {limit} bytes.")
    try:
        parsed = parsing.parse(raw)
    except parsing.ParseError:
        return quarantine(raw, mailbox, error=traceback.format_exc())
    existing = _already_ingested(parsed, raw)
    if existing is not None:
        return IngestResult(existing.status, inbound=existing, duplicate=True)

    try:
        return _route(raw, parsed, mailbox)
    except IntegrityError:
        # Fetched twice at once: the other worker's row won the unique Message-ID + content.
        existing = _already_ingested(parsed, raw)
        if existing is None:
            raise
        return IngestResult(existing.status, inbound=existing, duplicate=True)


def _already_ingested(parsed: parsing.ParsedMessage, raw: bytes) -> InboundMessage | None:
    """The same message delivered before: same Message-ID and content (rows stored before
    content hashes existed match on the Message-ID alone)."""
    return (InboundMessage.objects.filter(message_id=_db_message_id(parsed.message_id))
            .filter(Q(content_hash=parsing.content_hash(raw)) | Q(content_hash=""))
            .order_by("pk").first())


def _route(raw: bytes, parsed: parsing.ParsedMessage, mailbox: Mailbox | None) -> IngestResult:
    """Record a report on the ticket it answers, ignore it (loop, unknown sender), add it
    to its ticket, or open a ticket."""
    report = reports.read(parsed)
    if report is not None:
        return _record_report(raw, parsed, mailbox, report)
    reason = loops.loop_reason(parsed, own_addresses=own_addresses())
    if reason:
        return _store(raw, parsed, mailbox, InboundStatus.IGNORED_LOOP, reason=reason)
    if not parsed.from_address:  # a mail-system notice that is neither report nor loop
        return quarantine(raw, mailbox, error="The message has no valid From address.")
    sender = match_sender(parsed, mailbox)
    if sender is None:
        return _store(raw, parsed, mailbox, InboundStatus.IGNORED_SENDER,
                      reason=f"No customer with the address {parsed.from_address}, and the "
                             "mailbox does not create new ones.")
    ticket = find_ticket(parsed, sender)
    closed = ticket if ticket is not None and ticket.status == Status.CLOSED else None
    if closed is not None:
        ticket = None  # a closed ticket stays closed: the mail opens a follow-up
    with transaction.atomic():
        # The row first: its unique Message-ID + content stops a concurrent twin first.
        inbound = _store(raw, parsed, mailbox, InboundStatus.TICKET_CREATED).inbound
        assert inbound is not None
        if ticket is not None:
            message = _add_reply(ticket, parsed, raw, sender)
            inbound.status = InboundStatus.REPLY_ADDED
            inbound.ticket_id, inbound.ticket_message = ticket.pk, message
        else:
            inbound.ticket = _create_ticket(parsed, raw, sender, mailbox,
                                            follow_up_of=closed)
        inbound.save(update_fields=["status", "ticket", "ticket_message"])
    return IngestResult(inbound.status, inbound=inbound)


def _record_report(raw: bytes, parsed: parsing.ParsedMessage, mailbox: Mailbox | None,
                   report: reports.Report) -> IngestResult:
    """A bounce or automatic reply: an internal note on the ticket of the mail it answers
    (never a ticket, never quarantine, never an answer), and for a permanent failure the
    address marked as bouncing. A report about mail we did not send is only kept."""
    outbound, ticket = _answered(parsed, report)
    if outbound is None and ticket is None:
        return _store(raw, parsed, mailbox, InboundStatus.IGNORED_LOOP,
                      reason=f"{report.label} about mail we did not send: not linked.")
    bounce = report.kind == reports.Kind.BOUNCE
    sent_to = {parseaddr(a)[1].lower() for a in (outbound.recipients if outbound else [])}
    with transaction.atomic():
        inbound = _store(raw, parsed, mailbox, InboundStatus.BOUNCE if bounce
                         else InboundStatus.AUTO_REPLY).inbound
        assert inbound is not None
        marked: dict[str, str] = {}  # address in the report -> address marked ("" if not)
        for recipient in report.failed if bounce else []:
            address = next((a for a in recipient.addresses if a in sent_to), "")
            if address:
                bounces.mark(address, status=recipient.status, reason=recipient.diagnostic,
                             ticket=ticket, outbound=outbound, report=inbound)
            marked[recipient.address] = address
        body, summary = _report_note(parsed, report, marked)
        inbound.reason = summary[:2000]
        if ticket is not None:
            name = "delivery-report.eml" if bounce else "automatic-reply.eml"
            inbound.ticket = ticket
            inbound.ticket_message = ticket_services.add_system_note(
                ticket, body=body, channel=Channel.EMAIL, attachments=[
                    SimpleUploadedFile(name, raw, content_type="message/rfc822")])
        inbound.save(update_fields=["reason", "ticket", "ticket_message"])
    return IngestResult(inbound.status, inbound=inbound)


def _answered(parsed: parsing.ParsedMessage,
              report: reports.Report) -> tuple[OutboundEmail | None, Ticket | None]:
    """The e-mail a report answers (by the returned copy's Message-ID, else the report's
    own threading headers) and its ticket; an automatic reply may also name the ticket by
    its token when its sender may write to that ticket."""
    ids = [_db_message_id(i) for i in
           report.original_ids + parsed.in_reply_to + list(reversed(parsed.references))]
    rows = {row.message_id: row for row in
            OutboundEmail.objects.filter(message_id__in=ids).select_related("ticket")}
    outbound = next((rows[i] for i in ids if i in rows), None)
    if outbound is not None:
        return outbound, _surviving(outbound.ticket)
    if report.kind == reports.Kind.AUTO_REPLY:
        sender = User.objects.filter(email__iexact=parsed.from_address, is_active=True) \
            .order_by("pk").first() if parsed.from_address else None
        if sender is not None:
            return None, find_ticket(parsed, sender)
    return None, None


def _report_note(parsed: parsing.ParsedMessage, report: reports.Report,
                 marked: dict[str, str]) -> tuple[str, str]:
    """(the note's Markdown, a one-line summary) of a report."""
    sender = parsed.from_address or parsed.from_name or "the mail system"
    lines: list[str] = []
    if report.kind == reports.Kind.AUTO_REPLY:
        summary = f"{report.label} from {sender}"
        lines.append(f"**{summary}**: {parsed.subject}")
        if report.text.strip():
            lines += ["", report.text.strip()]
        lines += ["", "_Recorded as a note: nobody is told, nothing is sent back._"]
        return "\n".join(lines), summary
    for recipient in report.failed:
        lines.append(f"**Delivery to {recipient.address} failed: "
                     f"{reports.describe(recipient.status)}**")
        if recipient.diagnostic:
            lines.append(f"The receiving server said: {recipient.diagnostic}")
        if marked.get(recipient.address):
            lines.append("The address is marked as bouncing: automatic e-mail to it is held "
                         "until an agent clears the mark.")
        else:
            lines.append("Not marked: the e-mail it answers was not sent to this address.")
        lines.append("")
    for recipient in report.delayed:
        lines += [f"**Delivery to {recipient.address} delayed: "
                  f"{reports.describe(recipient.status)}**"]
        if recipient.diagnostic:
            lines.append(f"The receiving server said: {recipient.diagnostic}")
        lines += ["The sending server keeps trying; nothing is held.", ""]
    if not lines:
        lines = [f"**Delivery report from {sender}**: it names no failed recipient.", ""]
    summary = lines[0].strip("*")
    lines.append(f"Report from {sender}: “{parsed.subject}”")
    quoted = report.text.strip()[:3000]
    lines += [f"> {line}".rstrip() for line in quoted.split("\n")] if quoted else []
    return "\n".join(lines), summary


def _db_message_id(value: str) -> str:
    value = parsing.normalise_msgid(value)
    if len(value) <= 255:
        return value
    return f"sha256-{hashlib.sha256(value.encode()).hexdigest()}@long-message-id.invalid"


def _store(raw: bytes, parsed: parsing.ParsedMessage, mailbox: Mailbox | None, status: str,
           *, reason: str = "") -> IngestResult:
    inbound = InboundMessage(
        message_id=_db_message_id(parsed.message_id), content_hash=parsing.content_hash(raw),
        mailbox=mailbox,
        from_address=parsed.from_address[:254], subject=parsed.subject[:255], status=status,
        reason=reason, received_at=timezone.now(),
    )
    digest = hashlib.sha256(raw).hexdigest()[:32]
    inbound.raw.save(f"{digest}.eml", ContentFile(raw), save=False)
    with transaction.atomic():  # a savepoint: a duplicate must not break an outer transaction
        inbound.save()
    return IngestResult(status, inbound=inbound)


def match_sender(parsed: parsing.ParsedMessage, mailbox: Mailbox | None) -> User | None:
    """The user with the sender's address; a new customer (joining the organisation of
    the address's domain) when the mailbox allows it."""
    address = parsed.from_address
    user = (User.objects.filter(email__iexact=address, is_active=True).order_by("pk").first())
    if user is not None:
        return user
    if mailbox is not None and not mailbox.allow_new_customers:
        return None
    if User.objects.filter(email__iexact=address).exists():
        return None  # a deactivated account: do not resurrect it by e-mail
    first, _, last = (parsed.from_name or "").strip().partition(" ")
    try:
        with transaction.atomic():
            # Two workers ingesting mail of one new sender: the second waits here for the
            # first to commit, then finds its customer instead of making "address-2".
            _lock_address(address)
            user = User.objects.filter(email__iexact=address).order_by("pk").first()
            if user is not None:
                return user if user.is_active else None
            return register_customer(username=_free_username(address), email=address,
                                     password=None,  # type: ignore[arg-type] - unusable
                                     first_name=first[:150], last_name=last[:150])
    except IntegrityError:  # a concurrent ingest created the same customer first
        user = User.objects.filter(email__iexact=address, is_active=True).order_by("pk").first()
        if user is None:
            raise
        return user


def _lock_address(address: str) -> None:
    """A transaction-scoped lock per address (PostgreSQL; SQLite has one writer anyway)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                           [f"mailgate.sender:{address.lower()}"])


def _free_username(address: str) -> str:
    base = address.lower()[:140]
    name, n = base, 1
    while User.objects.filter(username=name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def _may_reply_to(ticket: Ticket, sender: User) -> bool:
    """A threaded mail only lands on a ticket its sender may write to (headers are easy
    to forge); anyone else opens a ticket of their own."""
    if sender.is_agent:
        return visible_tickets(sender).filter(pk=ticket.pk).exists()
    if ticket.requester_id == sender.pk:
        return True
    if sender.organization_id and sender.organization_id == ticket.organization_id:
        return True
    return ticket.ccs.filter(pk=sender.pk).exists()


def find_ticket(parsed: parsing.ParsedMessage, sender: User) -> Ticket | None:
    """The ticket this mail continues: by its In-Reply-To/References to mail of the
    thread, else by the ticket token in the subject; None for a new conversation."""
    ids = [_db_message_id(i) for i in parsed.in_reply_to + list(reversed(parsed.references))]
    ticket_id = None
    if ids:
        known: dict[str, int] = {}
        for model in (OutboundEmail, InboundMessage):
            known.update(model.objects.filter(message_id__in=ids, ticket__isnull=False)
                         .values_list("message_id", "ticket_id"))
        ticket_id = next((known[i] for i in ids if i in known), None)
    if ticket_id is None:
        match = _token_re().search(parsed.subject)
        ticket_id = int(match.group(1)) if match else None
    if ticket_id is None:
        return None
    ticket = _surviving(Ticket.objects.filter(pk=ticket_id).first())
    if ticket is None or not _may_reply_to(ticket, sender):
        return None
    return ticket


def _surviving(ticket: Ticket | None) -> Ticket | None:
    """The ticket itself, or the one it was merged into (followed a few levels)."""
    for _ in range(5):
        if ticket is None or ticket.merged_into_id is None:
            break
        ticket = Ticket.objects.filter(pk=ticket.merged_into_id).first()
    return ticket


@dataclass
class _Upload:
    files: list[SimpleUploadedFile]
    dropped: list[str]
    original: list[SimpleUploadedFile]  # the whole message, for agents and its sender


def _uploads(parsed: parsing.ParsedMessage, raw: bytes, *, keep_original: bool) -> _Upload:
    """Attachments within the ticket limits (type, size, count); the rest are noted, and
    then the original message goes along so that nothing is out of reach."""
    allowed = {e.lower() for e in settings.HELPDESK_ALLOWED_ATTACHMENT_EXTENSIONS}
    max_bytes = settings.HELPDESK_MAX_ATTACHMENT_BYTES
    max_count = max_attachments()
    files: list[SimpleUploadedFile] = []
    dropped: list[str] = []
    wanted = sorted(parsed.attachments, key=lambda a: a.inline)  # real attachments first
    for att in wanted:
        name = att.filename
        ext = PurePath(name).suffix.lower().lstrip(".")
        if ext not in allowed:
            dropped.append(f"{name} (files of type .{ext or '?'} are not accepted)")
        elif len(att.payload) > max_bytes:
            dropped.append(f"{name} (larger than {max_bytes // (1024 * 1024)} MB)")
        elif len(files) >= max_count:
            dropped.append(f"{name} (more than {max_count} attachments)")
        else:
            files.append(SimpleUploadedFile(name, att.payload, content_type=att.content_type))
    dropped += [f"a {ctype} part that could not be read" for ctype in parsed.unreadable]
    original = []
    if keep_original or dropped:
        original.append(SimpleUploadedFile(ORIGINAL_NAME, raw, content_type="message/rfc822"))
    return _Upload(files, dropped, original)


ORIGINAL_NAME = "original-message.eml"


def _body_and_files(parsed: parsing.ParsedMessage, raw: bytes, *,
                    strip: bool) -> tuple[str, _Upload]:
    """The text to store and the files to attach: the full original goes along whenever
    the stored text is not the whole message (history stripped, taken from HTML, nested
    messages) or a part could not be stored."""
    text = parsed.reply_text if strip else parsed.text
    cut = " ".join(text.split()) != " ".join(parsed.text.split())
    upload = _uploads(parsed, raw, keep_original=cut or not parsed.shown_whole)
    body = text.strip() or "(no text)"
    if upload.dropped:
        body += ("\n\n_Not stored on the ticket (kept in the attached original message): "
                 + "; ".join(upload.dropped) + "._")
    return body, upload


def _create_ticket(parsed: parsing.ParsedMessage, raw: bytes, sender: User,
                   mailbox: Mailbox | None, *, follow_up_of: Ticket | None = None) -> Ticket:
    forward = parsing.is_forward(parsed.subject)
    body, upload = _body_and_files(parsed, raw, strip=not forward)
    if follow_up_of is not None:
        body = f"_Follow-up to the closed ticket {follow_up_of.reference}._\n\n{body}"
    subject = parsing.clean_subject(parsed.subject) if not forward else parsed.subject
    subject = _token_re().sub("", subject).strip() or "(no subject)"
    ticket = ticket_services.create_ticket(
        requester=sender, subject=subject, description=body, channel=Channel.EMAIL,
        priority=mailbox.default_priority if mailbox else None, attachments=upload.files,
        max_attachments=max_attachments(), sender_only_attachments=upload.original,
    )
    if mailbox and mailbox.default_team_id and ticket.assignee_id is None \
            and ticket.team_id != mailbox.default_team_id:
        ticket = ticket_services.update_ticket(ticket, actor=None,
                                               changes={"team": mailbox.default_team})
    return ticket


def _add_reply(ticket: Ticket, parsed: parsing.ParsedMessage, raw: bytes,
               sender: User) -> Message:
    body, upload = _body_and_files(parsed, raw, strip=True)
    return ticket_services.add_reply(ticket, author=sender, body=body, public=True,
                                     attachments=upload.files, channel=Channel.EMAIL,
                                     max_attachments=max_attachments(),
                                     sender_only_attachments=upload.original)


def retry_quarantined(row: Quarantine) -> InboundMessage | None:
    """Ingest a quarantined message again (e.g. after a fix); None if it still fails."""
    with row.raw.open("rb") as f:
        raw = f.read()
    try:
        result = _ingest_strict(raw, row.mailbox)
    except Exception:
        row.error = traceback.format_exc()[:20000]
        row.save(update_fields=["error"])
        return None
    row.resolved_at = timezone.now()
    row.inbound = result.inbound
    row.save(update_fields=["resolved_at", "inbound"])
    return result.inbound


def _ingest_strict(raw: bytes, mailbox: Mailbox | None) -> IngestResult:
    """Like `ingest`, but a parse failure raises instead of quarantining again."""
    parsing.parse(raw)
    if len(raw) > max_message_bytes():
        raise parsing.ParseError("The message is still above the size limit.")
    return _ingest(raw, mailbox)

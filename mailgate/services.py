"""Email channel writes: ingest inbound mail into tickets, queue and send outbound replies.

`ingest` never raises: whatever goes wrong, the raw message ends up either as an
`InboundMessage` (ticket, reply, or ignored with a reason) or in `Quarantine` with the
error, so a poller or a webhook can always move on to the next message.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import re
import traceback
from dataclasses import dataclass
from email.utils import formataddr, make_msgid, parseaddr
from pathlib import PurePath

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from helpdesk.mail import OutgoingMail, mail_domain
from helpdesk.models import User
from helpdesk.services import register_customer
from tickets import services as ticket_services
from tickets.models import Channel, Message, Ticket
from tickets.selectors import visible_tickets
from tickets.state_machine import Status

from . import loops, parsing
from .models import (
    InboundMessage,
    InboundStatus,
    Mailbox,
    OutboundEmail,
    OutboundStatus,
    Quarantine,
)

logger = logging.getLogger(__name__)

MAX_SEND_ATTEMPTS = 5
REFERENCES_KEPT = 20  # mail clients truncate long References chains the same way


def max_message_bytes() -> int:
    return int(getattr(settings, "MAILGATE_MAX_MESSAGE_BYTES", 25 * 1024 * 1024))


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
    message_id = _db_message_id(parsed.message_id)
    existing = InboundMessage.objects.filter(message_id=message_id).first()
    if existing is not None:
        return IngestResult(existing.status, inbound=existing, duplicate=True)

    try:
        return _route(raw, parsed, mailbox)
    except IntegrityError:
        # Fetched twice at once: the other worker's row won the unique Message-ID.
        existing = InboundMessage.objects.filter(message_id=message_id).first()
        if existing is None:
            raise
        return IngestResult(existing.status, inbound=existing, duplicate=True)


def _route(raw: bytes, parsed: parsing.ParsedMessage, mailbox: Mailbox | None) -> IngestResult:
    """Ignore it (loop, unknown sender), add it to its ticket, or open a ticket."""
    reason = loops.loop_reason(parsed, own_addresses=own_addresses())
    if reason:
        return _store(raw, parsed, mailbox, InboundStatus.IGNORED_LOOP, reason=reason)
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
        # The row first: its unique Message-ID stops a concurrent twin before any write.
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


def _db_message_id(value: str) -> str:
    value = parsing.normalise_msgid(value)
    if len(value) <= 255:
        return value
    return f"sha256-{hashlib.sha256(value.encode()).hexdigest()}@long-message-id.invalid"


def _store(raw: bytes, parsed: parsing.ParsedMessage, mailbox: Mailbox | None, status: str,
           *, reason: str = "") -> IngestResult:
    inbound = InboundMessage(
        message_id=_db_message_id(parsed.message_id), mailbox=mailbox,
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
            return register_customer(username=_free_username(address), email=address,
                                     password=None,  # type: ignore[arg-type] - unusable
                                     first_name=first[:150], last_name=last[:150])
    except IntegrityError:  # a concurrent ingest created the same customer first
        user = User.objects.filter(email__iexact=address, is_active=True).order_by("pk").first()
        if user is None:
            raise
        return user


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
    ticket = Ticket.objects.filter(pk=ticket_id).select_related("merged_into").first()
    for _ in range(5):  # follow merges to the surviving ticket
        if ticket is None or ticket.merged_into_id is None:
            break
        ticket = ticket.merged_into
    if ticket is None or not _may_reply_to(ticket, sender):
        return None
    return ticket


@dataclass
class _Upload:
    files: list[SimpleUploadedFile]
    dropped: list[str]


def _uploads(parsed: parsing.ParsedMessage, raw_original: bytes | None) -> _Upload:
    """Attachments within the ticket limits (count, size, type); the rest are noted."""
    allowed = {e.lower() for e in settings.HELPDESK_ALLOWED_ATTACHMENT_EXTENSIONS}
    max_bytes = settings.HELPDESK_MAX_ATTACHMENT_BYTES
    max_count = settings.HELPDESK_MAX_ATTACHMENTS_PER_MESSAGE
    files: list[SimpleUploadedFile] = []
    dropped: list[str] = []
    wanted = sorted(parsed.attachments, key=lambda a: a.inline)  # real attachments first
    slots = max_count - (1 if raw_original is not None else 0)
    for att in wanted:
        name = att.filename
        ext = PurePath(name).suffix.lower().lstrip(".")
        if ext not in allowed:
            dropped.append(f"{name} (files of type .{ext or '?'} are not accepted)")
        elif len(att.payload) > max_bytes:
            dropped.append(f"{name} (larger than {max_bytes // (1024 * 1024)} MB)")
        elif len(files) >= slots:
            dropped.append(f"{name} (more than {max_count} attachments)")
        else:
            files.append(SimpleUploadedFile(name, att.payload, content_type=att.content_type))
    if raw_original is not None:
        if len(raw_original) <= max_bytes:
            files.append(SimpleUploadedFile("original-message.eml", raw_original,
                                            content_type="message/rfc822"))
        else:
            dropped.append("original-message.eml (larger than the attachment limit; the "
                           "full message is kept with the inbound mail)")
    return _Upload(files, dropped)


def _body_and_files(parsed: parsing.ParsedMessage, raw: bytes, *,
                    strip: bool) -> tuple[str, _Upload]:
    """The text to store and the files to attach: the full original goes along whenever
    the stored text is not the whole message (history stripped, or taken from HTML)."""
    text = parsed.reply_text if strip else parsed.text
    stripped = text.strip() != parsed.text.strip()
    html_only = bool(parsed.html) and not parsed.has_plain
    upload = _uploads(parsed, raw if (stripped or html_only) else None)
    body = text.strip() or "(no text)"
    if upload.dropped:
        body += "\n\n_Attachments not stored: " + "; ".join(upload.dropped) + "._"
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
                                     attachments=upload.files, channel=Channel.EMAIL)


# --- the mail thread of a ticket ------------------------------------------------------

def mailbox_for(ticket: Ticket) -> Mailbox | None:
    """The mailbox the conversation came through, else the first active one."""
    inbound = (InboundMessage.objects.filter(ticket=ticket, mailbox__isnull=False)
               .select_related("mailbox").order_by("received_at", "pk").first())
    if inbound is not None:
        return inbound.mailbox
    return Mailbox.objects.filter(is_active=True).order_by("pk").first()


def thread_ids(ticket: Ticket) -> tuple[str, list[str]]:
    """(In-Reply-To, References) for the next mail of the ticket: the latest customer
    mail is answered; References lists the thread oldest first, capped."""
    inbound = list(InboundMessage.objects.filter(
        ticket=ticket, status__in=[InboundStatus.TICKET_CREATED, InboundStatus.REPLY_ADDED])
        .order_by("received_at", "pk").values_list("received_at", "message_id"))
    outbound = list(OutboundEmail.objects.filter(ticket=ticket)
                    .exclude(status=OutboundStatus.FAILED)
                    .order_by("created_at", "pk").values_list("created_at", "message_id"))
    thread = [mid for _, mid in sorted(inbound + outbound, key=lambda r: r[0])]
    refs = thread[:1] + thread[1:][-(REFERENCES_KEPT - 1):] if thread else []
    in_reply_to = inbound[-1][1] if inbound else (thread[-1] if thread else "")
    return in_reply_to, refs


def _angle(message_id: str) -> str:
    return f"<{message_id}>" if message_id else ""


def threaded_subject(subject: str, ticket_id: int) -> str:
    token = ticket_token(ticket_id)
    return subject if token in subject else f"{subject} {token}"


def is_mail_ticket(ticket: Ticket) -> bool:
    return ticket.channel == Channel.EMAIL


# --- outbound replies -----------------------------------------------------------------

def queue_reply(message_id: int) -> OutboundEmail | None:
    """Queue the e-mail of an agent's public reply, once (unique key per message).

    Only tickets of the email channel get replies by e-mail: web and chat customers
    follow their tickets in the portal. Internal notes are never sent.
    """
    message = (Message.objects.select_related("ticket__requester", "author")
               .filter(pk=message_id).first())
    if message is None or not message.is_public or not message.by_agent:
        return None
    ticket = message.ticket
    if not is_mail_ticket(ticket):
        return None
    own = own_addresses()
    to = [ticket.requester.email] + list(ticket.ccs.exclude(email="")
                                          .values_list("email", flat=True))
    to = list(dict.fromkeys(a for a in to if a and a.lower() not in own))
    if not to:
        return None
    mailbox = mailbox_for(ticket)
    domain = mailbox.address.rsplit("@", 1)[-1] if mailbox else mail_domain()
    in_reply_to, refs = thread_ids(ticket)
    with transaction.atomic():
        row, created = OutboundEmail.objects.get_or_create(
            key=f"reply:{message.pk}",
            defaults={
                "kind": "reply", "ticket": ticket, "ticket_message": message, "mailbox": mailbox,
                "message_id": parsing.normalise_msgid(make_msgid("hd", domain=domain)),
                "in_reply_to": in_reply_to, "references": " ".join(refs),
                "to": ", ".join(to),
                "subject": threaded_subject(f"Re: {ticket.subject}", ticket.pk)[:300],
            },
        )
    # A row still waiting for its first attempt is queued again: the process that wrote it
    # may have died before queueing it (a replayed event). Sending is once (row lock).
    if created or (row.status == OutboundStatus.QUEUED and row.attempts == 0):
        _enqueue(row.pk)
    return row


def _enqueue(outbound_id: int) -> None:
    from .tasks import send_outbound_email

    transaction.on_commit(lambda: send_outbound_email.delay(outbound_id))


def backoff_seconds(attempts: int) -> int:
    """1, 2, 4, 8 … minutes between attempts, at most an hour."""
    return min(60 * 2 ** max(attempts - 1, 0), 3600)


def _reply_email(row: OutboundEmail) -> EmailMultiAlternatives:
    message = row.ticket_message
    ticket = row.ticket
    mailbox = row.mailbox
    address = mailbox.address if mailbox else settings.DEFAULT_FROM_EMAIL
    agent_name = message.author.display_name if message and message.author else "Support"
    context = {"ticket": ticket, "message": message, "agent_name": agent_name,
               "token": ticket_token(ticket.pk),
               "portal_url": f"{settings.HELPDESK_BASE_URL}"
                             f"{reverse('portal:ticket', args=[ticket.pk])}"}
    headers = {"Message-ID": _angle(row.message_id),
               "X-Auto-Response-Suppress": "OOF, AutoReply",
               f"X-{token_prefix()}-Ticket": str(ticket.pk)}
    if row.in_reply_to:
        headers["In-Reply-To"] = _angle(row.in_reply_to)
    if row.references:
        headers["References"] = " ".join(_angle(r) for r in row.references.split())
    email = EmailMultiAlternatives(
        row.subject, render_to_string("mailgate/email/reply.txt", context),
        formataddr((f"{agent_name} via {mailbox.name if mailbox else 'Support'}",
                    parseaddr(address)[1])),
        row.recipients, headers=headers, reply_to=[address],
    )
    email.attach_alternative(render_to_string("mailgate/email/reply.html", context),
                             "text/html")
    return email


def send_outbound(outbound_id: int) -> str:
    """Send one queued e-mail at most once: "sent", "skipped", "retry" or "failed".

    The row is locked while the mail is handed over and marked sent in the same
    transaction, so a task run twice (or by two workers) sends it once.
    """
    with transaction.atomic():
        row = (OutboundEmail.objects.select_for_update()
               .filter(pk=outbound_id, status=OutboundStatus.QUEUED).first())
        if row is None:
            return "skipped"
        row = (OutboundEmail.objects.select_related("ticket", "ticket_message__author", "mailbox")
               .get(pk=row.pk))
        row.attempts += 1
        row.last_attempt_at = timezone.now()
        try:
            _reply_email(row).send()
        except Exception as exc:  # SMTP refused, network down, bad address…
            logger.warning("Outbound e-mail %s failed (attempt %s): %s", row.key,
                           row.attempts, exc)
            row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if row.attempts >= MAX_SEND_ATTEMPTS:
                row.status = OutboundStatus.FAILED
            row.save(update_fields=["attempts", "last_error", "status", "last_attempt_at"])
            return "failed" if row.status == OutboundStatus.FAILED else "retry"
        row.status = OutboundStatus.SENT
        row.sent_at = timezone.now()
        row.last_error = ""
        row.save(update_fields=["attempts", "last_error", "status", "sent_at",
                                "last_attempt_at"])
    return "sent"


# A queued send that has not happened this long after it was due was lost with the broker
# (Redis restarted without its data, or down when the task was queued).
STALL_GRACE = dt.timedelta(minutes=5)


def requeue_stalled(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Queue again the e-mails still waiting whose task was lost: never tried five minutes
    after they were written, or not tried again five minutes after their backoff ended.
    Sending is once (row lock + status), so a task that was only late sends nothing twice.
    """
    now = now or timezone.now()
    due = []
    for row in (OutboundEmail.objects.filter(status=OutboundStatus.QUEUED)
                .only("pk", "attempts", "created_at", "last_attempt_at")
                .order_by("created_at")[:limit]):
        if row.attempts == 0 or row.last_attempt_at is None:
            stalled = row.created_at + STALL_GRACE < now
        else:
            retry_at = row.last_attempt_at + dt.timedelta(seconds=backoff_seconds(row.attempts))
            stalled = retry_at + STALL_GRACE < now
        if stalled:
            due.append(row.pk)
    from .tasks import send_outbound_email

    for pk in due:
        send_outbound_email.delay(pk)
    if due:
        logger.warning("Queued %s stalled outbound e-mail(s) again", len(due))
    return len(due)


def retry_outbound(row: OutboundEmail, *, actor: User) -> OutboundEmail:
    """An agent asks to send a failed e-mail again (same Message-ID, so still one mail)."""
    with transaction.atomic():
        row = OutboundEmail.objects.select_for_update().get(pk=row.pk)
        if row.status != OutboundStatus.FAILED:
            return row
        row.status = OutboundStatus.QUEUED
        row.attempts = 0
        row.save(update_fields=["status", "attempts"])
        logger.info("Outbound e-mail %s queued again by %s", row.key, actor.pk)
        _enqueue(row.pk)
    return row


# --- notifications and surveys: threading headers for helpdesk.mail ------------------

def enrich_outgoing(mail: OutgoingMail) -> None:
    """helpdesk.mail hook: notifications and surveys get the RFC 3834 auto header, the
    HTML part from our templates and, for a mail ticket, thread headers and the token."""
    mail.headers.setdefault("Auto-Submitted", "auto-generated")
    if not mail.html:
        with contextlib.suppress(TemplateDoesNotExist):  # kinds without a template
            mail.html = render_to_string(f"mailgate/email/{mail.kind}.html",
                                         {"mail": mail, "base_url": settings.HELPDESK_BASE_URL,
                                          **mail.context})
    if mail.ticket_id is None:
        return
    ticket = Ticket.objects.filter(pk=mail.ticket_id).first()
    if ticket is None or not is_mail_ticket(ticket):
        return
    mailbox = mailbox_for(ticket)
    in_reply_to, refs = thread_ids(ticket)
    if in_reply_to:
        mail.headers["In-Reply-To"] = _angle(in_reply_to)
    if refs:
        mail.headers["References"] = " ".join(_angle(r) for r in refs)
    mail.subject = threaded_subject(mail.subject, ticket.pk)
    if mailbox is not None:
        mail.reply_to = [mailbox.address]
    message_id = parsing.normalise_msgid(mail.headers["Message-ID"])
    # Remember the Message-ID so a reply to this mail lands on the ticket.
    OutboundEmail.objects.get_or_create(key=mail.key[:100], defaults={
        "kind": mail.kind[:20], "ticket": ticket, "mailbox": mailbox,
        "message_id": message_id, "to": ", ".join(mail.to), "subject": mail.subject[:300],
        "status": OutboundStatus.EXTERNAL, "in_reply_to": in_reply_to,
        "references": " ".join(refs),
    })


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

"""The e-mail channel's generated history (see helpdesk/generators.py): for every ticket
that came in by e-mail, the inbound message of each customer e-mail (the first one filed
the ticket, the others were added as replies) and the outbound e-mail of each public
agent reply, threaded by Message-ID, plus the automatic acknowledgement of the new ticket.
"""
from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import TextIO

from helpdesk import generators
from helpdesk.generators import Batch, Run

from .demo import seed_demo
from .models import InboundMessage, InboundStatus, OutboundEmail, OutboundStatus

_dt = datetime.fromtimestamp
INBOUND_COLUMNS = ("message_id", "content_hash", "mailbox_id", "raw", "from_address",
                   "subject", "status", "reason", "ticket_id", "ticket_message_id",
                   "received_at")
OUTBOUND_COLUMNS = ("key", "kind", "ticket_id", "ticket_message_id", "mailbox_id",
                    "message_id", "in_reply_to", "references", "to", "subject", "status",
                    "attempts", "last_error", "created_at", "sent_at", "last_attempt_at",
                    "notice", "context", "recipient", "automatic")
CREATED, REPLIED = str(InboundStatus.TICKET_CREATED.value), str(InboundStatus.REPLY_ADDED.value)
SENT = str(OutboundStatus.SENT.value)


def tickets(run: Run, batch: Batch) -> None:
    rng = run.rng("mailgate")
    inbound, outbound = [], []
    for h in batch.tickets:
        if h.channel != "email" or not h.requester_email:
            continue
        domain = h.requester_email.rsplit("@", 1)[-1]
        thread: list[str] = []
        subject = h.subject[:240]
        for message_id, at, _author, role in h.messages:
            if role == "note":
                continue
            when = _dt(at, UTC)
            if role == "customer":
                mid = f"<{run.seed}.{message_id}.{rng.getrandbits(32):08x}@mail.{domain}>"
                status = REPLIED if thread else CREATED
                inbound.append((
                    mid, hashlib.sha256(mid.encode()).hexdigest(), None, "",
                    h.requester_email, subject if not thread else f"Re: {subject}", status,
                    "", h.id, message_id, when))
            else:
                mid = f"<reply-{run.seed}.{message_id}@helpdesk.example>"
                sent = _dt(at + 2 + 20 * rng.random(), UTC)
                outbound.append((
                    f"reply:{message_id}:{run.seed}", "reply", h.id, message_id, None, mid,
                    thread[-1] if thread else "", " ".join(thread[-10:]), h.requester_email,
                    f"Re: [#{h.id}] {subject}", SENT, 1, "", when, sent, sent, "", "{}",
                    "", False))
            thread.append(mid)
        if h.messages and h.messages[0][3] == "customer" or not h.messages:
            ack = _dt(h.created + 5 + 30 * rng.random(), UTC)
            outbound.append((
                f"notice:created:{h.id}:{run.seed}", "notice", h.id, None, None,
                f"<ack-{run.seed}.{h.id}@helpdesk.example>", thread[0] if thread else "",
                thread[0] if thread else "", h.requester_email,
                f"[#{h.id}] We received your request: {subject}"[:300], SENT, 1, "", ack, ack,
                ack, "customer.created", "{}", h.requester_email, True))
    batch.add(InboundMessage, INBOUND_COLUMNS, inbound)
    batch.add(OutboundEmail, OUTBOUND_COLUMNS, outbound)


def demo(stdout: TextIO) -> None:
    seed_demo(stdout)


generators.register(generators.Generator("mailgate", order=60, tickets=tickets, demo=demo))

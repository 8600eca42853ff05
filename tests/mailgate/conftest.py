"""Fixtures of the email channel tests: a mailbox, the corpus, a ticket with a mail thread."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mailgate.models import Mailbox, OutboundEmail, OutboundStatus
from tests.factories import make_ticket
from tickets.models import Channel

CORPUS = Path(__file__).parent / "corpus"
# The Message-ID of an agent reply we "sent" earlier; corpus replies refer to it.
SENT_ID = "hd-reply-1.4711@helpdesk.test"


def corpus(name: str, ticket_id: int | None = None) -> bytes:
    """A corpus message; `{TICKET}` in it becomes the id of the ticket under test."""
    raw = (CORPUS / name).read_bytes()
    if ticket_id is not None:
        raw = raw.replace(b"{TICKET}", str(ticket_id).encode())
    return raw


@pytest.fixture
def mailbox(db):
    return Mailbox.objects.create(name="support", address="support@helpdesk.test",
                                  imap_host="", webhook_token_env="MAILGATE_TEST_TOKEN")


@pytest.fixture
def thread(customer_a, mailbox):
    """Alice's e-mail ticket "Cannot log in", to which we already sent one reply."""
    ticket = make_ticket(customer_a, channel=Channel.EMAIL)
    OutboundEmail.objects.create(key="reply:seed", ticket=ticket, mailbox=mailbox,
                                 message_id=SENT_ID, to=customer_a.email,
                                 subject="Re: Cannot log in", status=OutboundStatus.SENT)
    return ticket


def delivery_report(sent: bytes, recipient: str, *, status: str = "5.1.1",
                    action: str = "failed", diagnostic: str = "550 5.1.1 User unknown",
                    mta: str = "mx.acme.example") -> bytes:
    """An RFC 3464 report as Postfix writes it about the mail `sent` (raw bytes as it left
    us): the headers of the returned mail are quoted, so its Message-ID is there."""
    head = sent.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("ascii", "replace")
    report_id = hashlib.sha256(sent + recipient.encode() + status.encode()).hexdigest()[:16]
    return f"""Return-Path: <>
From: Mail Delivery System <MAILER-DAEMON@{mta}>
To: support@helpdesk.test
Subject: Undelivered Mail Returned to Sender
Date: Mon, 30 Nov 2026 10:00:00 +0000
Message-ID: <dsn-{report_id}@{mta}>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="dsn-b"

--dsn-b
Content-Type: text/plain; charset=us-ascii

This is the mail system at host {mta}.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<{recipient}>: host {mta} said: {diagnostic}

--dsn-b
Content-Type: message/delivery-status

Reporting-MTA: dns; {mta}

Final-Recipient: rfc822; {recipient}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; {diagnostic}

--dsn-b
Content-Type: text/rfc822-headers

{head}

--dsn-b--
""".encode()


# aiosmtpd on a free port, for every test here that needs the product's real SMTP delivery.
from .test_integration import smtp_sink  # noqa: E402, F401

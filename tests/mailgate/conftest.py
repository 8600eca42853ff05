"""Fixtures of the email channel tests: a mailbox, the corpus, a ticket with a mail thread."""
from __future__ import annotations

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

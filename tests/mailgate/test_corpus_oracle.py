"""Every message of tests/mailgate/corpus/ through the real ingest path, checked against
Python's own parse of the same bytes (the oracle): each text part is shown on the ticket
(or note) it reached, in order, and each file part is stored there; whatever is not shown
whole is in the original .eml attached to it. manifest.toml adds what each message must
leave behind by name (strings, files, outcome, marked addresses).

`pytest tests/mailgate/test_corpus_oracle.py -s` prints the corpus figures.
"""
from __future__ import annotations

import email
import html.parser
import re
import tomllib
from dataclasses import dataclass, field
from email import policy

import pytest
from django.apps import apps

from mailgate import bounces, services
from mailgate.models import InboundMessage, OutboundEmail, OutboundStatus, Quarantine
from tests.factories import make_ticket
from tickets.models import Attachment, Channel, Message, Ticket

from .conftest import CORPUS, SENT_ID, corpus

pytestmark = pytest.mark.django_db

MANIFEST: dict[str, dict] = tomllib.loads((CORPUS / "manifest.toml").read_text())
NAMES = sorted(p.name for p in CORPUS.glob("*.eml"))
BODY_TYPES = {"text/plain", "text/html", "text/enriched"}
REPORT_TYPES = {"message/delivery-status", "message/disposition-notification",
                "text/rfc822-headers"}


def test_every_corpus_file_has_expectations():
    assert sorted(MANIFEST) == NAMES


# --- the oracle: Python's own parse ---------------------------------------------------

class _HTMLText(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style") and self._skip > 0

    def handle_data(self, data):
        if not self._skip:
            self.out.append(data)


def words(text: str) -> list[str]:
    """ASCII words: the same in every ASCII-compatible charset, so a charset the oracle
    cannot know does not make it fail; the manifest checks the non-ASCII text."""
    return re.findall(r"[A-Za-z0-9]+", text)


def _part_text(part: email.message.Message) -> str:
    payload = part.get_payload(decode=True) or b""
    text = payload.decode(part.get_content_charset() or "ascii", errors="replace") \
        if _known(part.get_content_charset()) else payload.decode("ascii", errors="replace")
    if part.get_content_subtype() in ("html", "enriched"):
        parser = _HTMLText()
        parser.feed(text)
        text = " ".join(parser.out)
    return text


def _known(charset: str | None) -> bool:
    import codecs

    try:
        codecs.lookup(charset or "ascii")
    except LookupError:
        return False
    return True


@dataclass
class Oracle:
    """What Python's parser finds: text parts (each a list of alternatives, any of which
    shows it) in order, and file parts."""

    texts: list[list[list[str]]] = field(default_factory=list)
    files: list[bytes] = field(default_factory=list)


def oracle(raw: bytes) -> Oracle:
    found = Oracle()
    msg = email.message_from_bytes(raw, policy=policy.compat32)

    def is_body(part) -> bool:
        return (part.get_content_type() in BODY_TYPES | REPORT_TYPES
                and part.get("Content-Disposition", "").split(";")[0].strip().lower()
                != "attachment" and not part.get_filename())

    def leaves(part):
        if part.is_multipart():
            for sub in part.get_payload():
                yield from leaves(sub)
        else:
            yield part

    def visit(part) -> None:
        ctype = part.get_content_type()
        if ctype == "multipart/alternative" and part.is_multipart():
            choices = [words(" ".join(_part_text(leaf) for leaf in leaves(alt) if is_body(leaf)))
                       for alt in part.get_payload()]
            choices = [c for c in choices if c]
            if choices:
                found.texts.append(choices)
            for alt in part.get_payload():
                found.files.extend(leaf.get_payload(decode=True) or b""
                                   for leaf in leaves(alt) if not is_body(leaf))
        elif part.is_multipart():
            for sub in part.get_payload():
                visit(sub)
        elif is_body(part):
            if ctype in REPORT_TYPES:
                text = part.get_payload(decode=False)
                text = text if isinstance(text, str) else str(text)
            else:
                text = _part_text(part)
            if words(text):
                found.texts.append([words(text)])
        else:
            found.files.append(part.get_payload(decode=True) or b"")

    visit(msg)
    return found


# --- what the ticket shows ------------------------------------------------------------

@dataclass
class Reached:
    """What one message left on its ticket: the texts shown and the files stored."""

    text: str
    attachments: list[Attachment]

    def has_original(self, raw: bytes) -> bool:
        return any(a.filename.endswith(".eml") and _read(a) == raw for a in self.attachments)

    def file_bytes(self) -> list[bytes]:
        return [_read(a) for a in self.attachments]


def _read(attachment: Attachment) -> bytes:
    with attachment.file.open("rb") as f:
        return f.read()


def reached_by(ticket: Ticket | None, message: Message | None) -> Reached | None:
    if message is not None:
        return Reached(message.body, list(message.attachments.all()))
    if ticket is None:
        return None
    messages = list(ticket.messages.order_by("created_at", "pk"))
    return Reached("\n\n".join([ticket.description] + [m.body for m in messages]),
                   list(Attachment.objects.filter(message__ticket=ticket)))


def _contains(haystack: list[str], needle: list[str]) -> int:
    """Where `needle` starts as a run of whole words in `haystack`, else -1."""
    joined, wanted = f" {' '.join(haystack)} ", f" {' '.join(needle)} "
    at = joined.find(wanted)
    return -1 if at < 0 else joined[:at].count(" ")


def lost_parts(raw: bytes, reached: Reached | None, *, whole_in_original: bool = False
               ) -> list[str]:
    """Oracle parts neither shown/stored on the ticket nor in its attached original."""
    if reached is None:
        return ["nothing reached a ticket"]
    with_original = reached.has_original(raw)
    if whole_in_original:  # a delivery report: the note quotes it, the original is the record
        return [] if with_original else ["the report is not attached to the note"]
    found = oracle(raw)
    shown = words(reached.text)
    lost, last = [], -1
    for n, choices in enumerate(found.texts, 1):
        places = [_contains(shown, c) for c in choices]
        place = max(places)
        if place >= 0:
            if place < last:
                lost.append(f"text part {n} shown out of order")
            last = place
            continue
        # Cut (quoted history, signature): still shown from its start, whole in the original.
        starts = [_contains(shown, c[:5]) for c in choices]
        if not (with_original and max(starts) >= 0):
            lost.append(f"text part {n}: {' '.join(choices[0][:8])}…")
    stored = reached.file_bytes()
    for n, payload in enumerate(found.files, 1):
        if payload not in stored and not with_original:
            lost.append(f"file part {n} ({len(payload)} bytes)")
    return lost


# --- feeding the corpus ---------------------------------------------------------------

def _norm(text: str) -> str:
    return " ".join(text.split())


@dataclass
class Result:
    name: str
    outcome: str
    lost: list[str]
    problems: list[str]


def feed(name: str, thread: Ticket, mailbox) -> Result:
    expect = MANIFEST[name]
    raw = corpus(name, thread.pk)
    before = {"tickets": Ticket.objects.count(), "quarantine": Quarantine.objects.count(),
              "inbound": InboundMessage.objects.count()}
    result = services.ingest(raw, mailbox)
    inbound = result.inbound
    problems: list[str] = []
    reached = None
    if result.duplicate or InboundMessage.objects.count() == before["inbound"] \
            and Quarantine.objects.count() == before["quarantine"]:
        outcome = "duplicate"
    elif result.quarantine is not None:
        outcome = "quarantine"
    elif inbound is None or inbound.ticket_id is None:
        outcome = "ignored"
    elif Ticket.objects.count() > before["tickets"]:
        outcome = "ticket"
        reached = reached_by(inbound.ticket, None)
    elif inbound.ticket_message is not None and not inbound.ticket_message.is_public:
        kind = inbound.status
        outcome = "bounce" if "bounce" in kind else "auto_reply"
        reached = reached_by(None, inbound.ticket_message)
    else:
        outcome = "reply"
        reached = reached_by(None, inbound.ticket_message)
    if outcome != expect["outcome"]:
        problems.append(f"outcome {outcome}, expected {expect['outcome']}")
    if outcome in ("reply", "bounce", "auto_reply") and inbound.ticket_id != thread.pk:
        problems.append("reached another ticket than the thread")
    lost: list[str] = []
    if expect["outcome"] in ("ticket", "reply", "bounce", "auto_reply"):
        lost = lost_parts(raw, reached,
                          whole_in_original=expect["outcome"] in ("bounce", "auto_reply"))
    if reached is not None:
        shown = _norm(reached.text)
        for text in expect.get("strings", []):
            if _norm(text) not in shown:
                problems.append(f"not shown: {text!r}")
        names = [a.filename for a in reached.attachments]
        for filename in expect.get("files", []):
            if filename not in names:
                problems.append(f"file {filename!r} not stored (stored: {names})")
        if expect.get("refused") and not reached.has_original(raw):
            problems.append(f"refused {expect['refused']} but no original attached")
    if outcome == "ticket" and reached is not None:
        ticket = inbound.ticket
        if "subject" in expect and ticket.subject != expect["subject"]:
            problems.append(f"subject {ticket.subject!r}")
        if "requester" in expect:
            who = [ticket.requester.email, ticket.requester.get_full_name()]
            if who != expect["requester"]:
                problems.append(f"requester {who}")
    if "held" in expect:
        held = sorted(a for a in expect["to"] if bounces.is_held(a))
        if held != sorted(expect["held"]):
            problems.append(f"held {held}, expected {expect['held']}")
    return Result(name, outcome, lost, problems)


@pytest.fixture
def corpus_thread(customer_a, mailbox):
    """Alice's mail ticket, and the mails we sent that the corpus's reports answer."""
    ticket = make_ticket(customer_a, channel=Channel.EMAIL)
    for name, expect in MANIFEST.items():
        if "sent" in expect:
            OutboundEmail.objects.update_or_create(
                message_id=expect["sent"],
                defaults={"key": f"corpus:{name}"[:100], "ticket": ticket, "mailbox": mailbox,
                          "to": ", ".join(expect["to"]), "subject": "Re: Cannot log in",
                          "status": OutboundStatus.SENT})
    assert OutboundEmail.objects.filter(message_id=SENT_ID).exists()
    return ticket


def row_counts() -> dict[str, int]:
    labels = ["tickets.Ticket", "tickets.Message", "tickets.Attachment", "tickets.TicketEvent",
              "helpdesk.User", "helpdesk.Notification", "mailgate.InboundMessage",
              "mailgate.Quarantine", "mailgate.OutboundEmail"]
    labels += [f"mailgate.{m.__name__}" for m in apps.get_app_config("mailgate").get_models()
               if f"mailgate.{m.__name__}" not in labels]
    return {label: apps.get_model(label).objects.count() for label in labels}


def test_corpus_reaches_tickets_whole_and_a_second_feed_adds_nothing(corpus_thread, mailbox,
                                                                     capsys):
    results = [feed(name, corpus_thread, mailbox) for name in NAMES]
    counts = row_counts()
    again = [services.ingest(corpus(name, corpus_thread.pk), mailbox) for name in NAMES]

    outcomes = [r.outcome for r in results]
    bounce_files = [n for n in NAMES if MANIFEST[n]["outcome"] == "bounce"]
    recognised = [r.name for r in results if r.name in bounce_files and r.outcome == "bounce"
                  and not r.problems]
    lost = [r for r in results if r.lost]
    with capsys.disabled():
        print(f"\ncorpus: {len(NAMES)} messages; tickets created {outcomes.count('ticket')}, "
              f"replies {outcomes.count('reply')}, notes {outcomes.count('bounce')} bounce + "
              f"{outcomes.count('auto_reply')} automatic reply, ignored "
              f"{outcomes.count('ignored')}, quarantined {outcomes.count('quarantine')}, "
              f"duplicates {outcomes.count('duplicate')}")
        print(f"bounces recognised: {len(recognised)} of {len(bounce_files)}; "
              f"content lost: {len(lost)} messages; any expectation unmet: "
              f"{sum(bool(r.lost or r.problems) for r in results)} messages")
        for r in results:
            if r.lost or r.problems:
                print(f"  {r.name}: {r.outcome}; lost {r.lost}; {r.problems}")

    assert [r for r in results if r.lost or r.problems] == []
    assert all(r.duplicate for r in again)
    assert row_counts() == counts

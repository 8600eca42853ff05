"""A customer with a footprint in every app: e-mail ticket with an attachment, replies both
ways, survey comment, help-center searches and a vote, notifications and mail logs."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from helpdesk.models import Notification, User
from helpdesk.roles import Role
from knowledge.models import Article, ArticleVote, SearchLog, Section, Visit
from mailgate import services as mail
from mailgate.models import InboundMessage, Mailbox
from tests.factories import make_user
from tickets import services as tickets
from tickets.models import Survey, Ticket

NAME = "Zebulon Quackenbush"
EMAIL = "zebulon.quackenbush@acme.example"
PHRASE = "purple-elephant-7781"


@dataclass
class Footprint:
    person: User
    ticket: Ticket
    other_ticket: Ticket


def raw_email(subject: str, body: str, attachment: str) -> bytes:
    return f"""From: {NAME} <{EMAIL}>
To: support@helpdesk.test
Subject: {subject}
Date: Mon, 30 Nov 2026 09:00:00 +0000
Message-ID: <first-{PHRASE}@acme.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

{body}

--b1
Content-Type: text/plain; name="notes.txt"
Content-Disposition: attachment; filename="notes.txt"

{attachment}
--b1--
""".replace("\n", "\r\n").encode()


@pytest.fixture(autouse=True)
def own_media(settings, tmp_path):
    """Each test its own media folder: files of other tests are not rolled back."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def footprint(db, org_a, agent, l1, customer_a) -> Footprint:
    mailbox = Mailbox.objects.create(name="support", address="support@helpdesk.test",
                                     imap_host="")
    person = make_user(Role.CUSTOMER, org=org_a, username="zquack", email=EMAIL,
                       first_name="Zebulon", last_name="Quackenbush")
    result = mail.ingest(raw_email(
        f"Printer on fire ({PHRASE})",
        f"Hello, this is {NAME}. Code word {PHRASE}. Call me at {EMAIL}.",
        f"Private notes of {NAME}: {PHRASE}"), mailbox)
    inbound = InboundMessage.objects.get()
    assert inbound.ticket_id, result
    ticket = inbound.ticket
    assert ticket.requester == person
    ticket.assignee = agent
    ticket.save(update_fields=["assignee"])
    tickets.add_reply(ticket, author=agent, body=f"Hi {NAME}, we are on it.")
    tickets.add_reply(ticket, author=person, body=f"Thanks! Again: {PHRASE}",
                      attachments=[SimpleUploadedFile("log.txt", f"{NAME} {PHRASE}".encode(),
                                                      content_type="text/plain")])
    tickets.add_reply(ticket, author=agent, body="Internal: he sounds upset", public=False)
    Survey.objects.create(ticket=ticket, resolution=1, requester=person, agent=agent,
                          status=Survey.Status.RESPONDED, scheduled_for=timezone.now(),
                          rating=2, comment=f"Slow. Signed {NAME}, {PHRASE}")
    section = Section.objects.create(name="Printing", slug="printing")
    article = Article.objects.create(section=section, slug="printers", title="Printers",
                                     body="Turn it off.", status="published",
                                     created_at=timezone.now(), updated_at=timezone.now())
    visit = Visit.objects.create(user=person, started_at=timezone.now(),
                                 last_seen_at=timezone.now(), first_query=PHRASE)
    SearchLog.objects.create(query=f"{PHRASE} printer", created_at=timezone.now(),
                             visit=visit, result_count=1)
    ArticleVote.objects.create(article=article, visit=visit, user=person, helpful=False,
                               comment=f"{PHRASE} did not help", created_at=timezone.now())
    Notification.objects.create(recipient=person, title="Your ticket was answered",
                                body=f"Dear {NAME}, {PHRASE}", created_at=timezone.now())
    # An admin edited them once: Django's own log keeps the name in object_repr.
    LogEntry.objects.log_actions(user_id=agent.pk, queryset=[person], action_flag=CHANGE,
                                 change_message="[]", single_object=True)
    other = tickets.create_ticket(requester=customer_a, subject="Unrelated",
                                  description="Nothing about anyone.")
    return Footprint(person=person, ticket=ticket, other_ticket=other)

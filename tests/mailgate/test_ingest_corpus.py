"""Real-world-shaped messages from tests/mailgate/corpus/ go through `ingest`: tickets,
threading, the stored text, attachments, loops and quarantine."""
from __future__ import annotations

import pytest
from django.core import mail

from helpdesk.models import User
from helpdesk.roles import Role
from mailgate import services
from mailgate.models import BounceMark, InboundMessage, InboundStatus, Quarantine
from tests.factories import make_ticket, make_user
from tickets import services as ticket_services
from tickets.models import Attachment, Channel, Message, Ticket
from tickets.state_machine import Status

from .conftest import corpus

pytestmark = pytest.mark.django_db


def ingest(name, mailbox, ticket_id=None):
    return services.ingest(corpus(name, ticket_id), mailbox)


def attachment_names(message: Message) -> list[str]:
    return sorted(a.filename for a in message.attachments.all())


# --- new tickets ----------------------------------------------------------------------

def test_new_mail_from_unknown_sender_opens_ticket_for_new_customer_of_org(mailbox, org_a):
    result = ingest("01_new_plain.eml", mailbox)
    assert result.status == InboundStatus.TICKET_CREATED
    ticket = result.ticket
    assert ticket.subject == "Export to CSV times out"
    assert ticket.channel == Channel.EMAIL
    carol = ticket.requester
    assert (carol.email, carol.first_name, carol.last_name) == (
        "carol@acme.example", "Carol", "Jones")
    assert carol.organization == org_a and ticket.organization == org_a
    assert not carol.has_usable_password()
    # The signature is stripped; the full original is kept as an attachment.
    assert ticket.description.endswith("Thanks,\nCarol")
    assert "Finance | Acme Corp" not in ticket.description
    first = ticket.messages.get()
    assert attachment_names(first) == ["original-message.eml"]
    inbound = result.inbound
    assert inbound.message_id == "CAB8x3kQ1+new-plain@mail.acme.example"
    assert inbound.raw.read() == corpus("01_new_plain.eml")


def test_same_message_id_is_ingested_once(mailbox):
    first = ingest("01_new_plain.eml", mailbox)
    again = ingest("01_new_plain.eml", mailbox)  # fetched twice
    other_route = ingest("15_duplicate_of_01.eml", mailbox)  # same mail via the backup MX
    assert not first.duplicate and again.duplicate and other_route.duplicate
    assert again.inbound == first.inbound == other_route.inbound
    assert Ticket.objects.count() == 1
    assert InboundMessage.objects.count() == 1
    assert User.objects.filter(email="carol@acme.example").count() == 1


def test_forwarded_mail_keeps_the_forwarded_content_and_attachment(mailbox, customer_a):
    ticket = ingest("05_forwarded.eml", mailbox).ticket
    assert ticket.requester == customer_a
    assert ticket.subject == "Fwd: Invoice 2026-114 charged twice"
    assert "can you check why we were charged twice?" in ticket.description
    assert "EUR 1,200.00" in ticket.description  # not stripped as quoted history
    assert attachment_names(ticket.messages.get()) == ["invoice-2026-114.pdf"]


def test_latin1_body_and_rfc2047_subject_and_name(mailbox):
    ticket = ingest("06_latin1_encoded_subject.eml", mailbox).ticket
    assert ticket.subject == "Problème de connexion après la mise à jour"
    assert "« mot de passe incorrect »" in ticket.description
    assert ticket.requester.get_full_name() == "François Müller"


def test_shift_jis_body_and_iso_2022_jp_subject(mailbox):
    ticket = ingest("07_shift_jis.eml", mailbox).ticket
    assert ticket.subject == "ログインできません"
    assert "ログイン画面でエラーが表示されます。" in ticket.description
    assert ticket.requester.first_name == "田中"


def test_windows_1252_smart_quotes_and_euro(mailbox):
    ticket = ingest("08_windows1252.eml", mailbox).ticket
    assert "The “Pay now” button charges €12.50 instead of €10.00 – please check." \
        in ticket.description


def test_attachments_and_inline_image_are_stored_refused_type_is_noted(mailbox, customer_a):
    ticket = ingest("09_attachment_inline_image.eml", mailbox).ticket
    first = ticket.messages.get()
    assert attachment_names(first) == ["export.log", "original-message.eml", "screenshot.png"]
    log = first.attachments.get(filename="export.log")
    assert log.file.read().startswith(b"2026-11-26 10:00:01 ERROR export")
    assert "setup.exe (files of type .exe are not accepted)" in ticket.description
    # The refused file is still reachable: in the original, kept for agents and Alice.
    original = first.attachments.get(filename="original-message.eml")
    assert original.sender_only and b"TVqQAGZha2U=" in original.file.read()


def test_attachment_over_the_size_limit_is_dropped_with_a_note(mailbox, customer_a, settings):
    settings.HELPDESK_MAX_ATTACHMENT_BYTES = 60  # the log (57 B) fits, the image (67 B) not
    ticket = ingest("09_attachment_inline_image.eml", mailbox).ticket
    assert attachment_names(ticket.messages.get()) == ["export.log", "original-message.eml"]
    assert "screenshot.png (larger than 0 MB)" in ticket.description


# --- replies and threading ------------------------------------------------------------

def test_gmail_reply_lands_on_ticket_with_quote_stripped(mailbox, thread, customer_a):
    result = ingest("02_gmail_reply.eml", mailbox, thread.pk)
    assert result.status == InboundStatus.REPLY_ADDED
    assert result.ticket == thread
    reply = thread.messages.order_by("-pk").first()
    assert reply.author == customer_a and reply.channel == Channel.EMAIL and reply.is_public
    assert reply.body == ("Thanks, resetting the password from the link worked. I can log in "
                          "again.\n\nOne more thing: the 2FA prompt appears twice, is that "
                          "expected?\n\nAlice")
    assert attachment_names(reply) == ["original-message.eml"]
    assert Ticket.objects.count() == 1


def test_gmail_reply_threads_by_in_reply_to_even_without_token(mailbox, thread):
    raw = corpus("02_gmail_reply.eml").replace(b" [HD-{TICKET}]", b"")
    assert services.ingest(raw, mailbox).ticket == thread


def test_outlook_html_only_reply_threads_by_references_and_is_sanitised(mailbox, thread):
    result = ingest("03_outlook_reply_html.eml", mailbox)
    assert result.ticket == thread  # Alice@Acme.example: addresses match case-insensitively
    reply = result.inbound.ticket_message
    assert reply.body == ("Hi Agnes,\n\nThe login still fails on Edge; Chrome works.\n\n"
                          "Kind regards,\nAlice")
    assert "alert" not in reply.body and "steal" not in reply.body
    assert attachment_names(reply) == ["original-message.eml"]


def test_apple_mail_reply_threads_by_subject_token(mailbox, thread):
    result = ingest("04_apple_mail_reply.eml", mailbox, thread.pk)
    assert result.ticket == thread
    assert result.inbound.ticket_message.body == \
        "It works on Edge now after clearing the cache — you can close this."


def test_colleague_of_same_org_replies_outlook_style(mailbox, thread, org_a):
    result = ingest("16_outlook_reply_plain.eml", mailbox, thread.pk)
    assert result.ticket == thread
    reply = result.inbound.ticket_message
    assert reply.author.email == "bob@acme.example" and reply.author.organization == org_a
    assert reply.body == "I'm Alice's colleague; same problem here since Tuesday.\n\nBob"


def test_reply_wakes_a_ticket_waiting_on_the_customer(mailbox, thread, agent):
    ticket_services.transition(thread, Status.ASSIGNED, actor=agent, assignee=agent)
    ticket_services.transition(thread, Status.IN_PROGRESS, actor=agent)
    ticket_services.transition(thread, Status.WAITING_ON_CUSTOMER, actor=agent,
                               reason="asked for a screenshot")
    ingest("02_gmail_reply.eml", mailbox, thread.pk)
    thread.refresh_from_db()
    assert thread.status == Status.IN_PROGRESS


def test_forged_token_from_another_organisation_opens_its_own_ticket(mailbox, thread,
                                                                     customer_b):
    raw = corpus("04_apple_mail_reply.eml", thread.pk).replace(
        b"From: Alice Smith <alice@acme.example>", b"From: Bob <bob@globex.example>")
    result = services.ingest(raw, mailbox)
    assert result.status == InboundStatus.TICKET_CREATED
    assert result.ticket != thread and result.ticket.requester == customer_b
    assert thread.messages.count() == 0


def test_reply_to_a_closed_ticket_opens_a_follow_up(mailbox, thread, agent):
    ticket_services.transition(thread, Status.CLOSED, actor=agent, reason="duplicate")
    result = ingest("02_gmail_reply.eml", mailbox, thread.pk)
    assert result.status == InboundStatus.TICKET_CREATED
    assert result.ticket != thread
    assert result.ticket.subject == "Cannot log in"
    assert result.ticket.description.startswith(
        f"_Follow-up to the closed ticket #{thread.pk}._")


def test_unknown_sender_is_ignored_when_mailbox_is_closed_to_new_customers(mailbox):
    mailbox.allow_new_customers = False
    mailbox.save()
    result = ingest("01_new_plain.eml", mailbox)
    assert result.status == InboundStatus.IGNORED_SENDER
    assert not Ticket.objects.exists()
    assert not User.objects.filter(email="carol@acme.example").exists()


# --- loops ----------------------------------------------------------------------------

@pytest.mark.parametrize("name, reason", [
    ("12_mailing_list.eml", "Precedence: list"),
    ("13_own_address.eml", "sent from one of our own addresses"),
])
def test_lists_and_own_mail_never_make_tickets(mailbox, thread, name, reason):
    users = User.objects.count()
    mail.outbox.clear()
    result = ingest(name, mailbox, thread.pk)
    assert result.status == InboundStatus.IGNORED_LOOP
    assert result.inbound.reason == reason
    assert result.inbound.ticket is None
    assert Ticket.objects.count() == 1 and thread.messages.count() == 0
    assert User.objects.count() == users
    assert mail.outbox == []


def test_bounce_about_mail_we_did_not_send_is_kept_unlinked(mailbox):
    """Backscatter (spam that forged our address) bounces too: no ticket, no note, no
    mark, no quarantine; the report is kept with the inbound mail."""
    raw = corpus("11_bounce_dsn.eml").replace(b"Auto-Submitted: auto-replied\n", b"")
    result = services.ingest(raw, mailbox)
    assert result.status == InboundStatus.IGNORED_LOOP
    assert result.inbound.reason == "Delivery report about mail we did not send: not linked."
    assert not Ticket.objects.exists() and not Quarantine.objects.exists()
    assert not BounceMark.objects.exists()


# --- quarantine -----------------------------------------------------------------------

def test_malformed_message_is_quarantined_with_error_and_raw_kept(mailbox):
    raw = corpus("14_malformed_no_sender.eml")
    result = services.ingest(raw, mailbox)
    assert result.status == InboundStatus.QUARANTINED
    row = Quarantine.objects.get()
    assert "no valid From address" in row.error
    assert row.raw.read() == raw and row.mailbox == mailbox
    assert services.ingest(raw, mailbox).duplicate  # fetched again: still one row
    assert Quarantine.objects.count() == 1
    assert not InboundMessage.objects.exists() and not Ticket.objects.exists()


def test_retry_of_a_fixed_quarantined_message_ingests_it(mailbox, monkeypatch):
    original = services.ticket_services.create_ticket

    def broken(**kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(services.ticket_services, "create_ticket", broken)
    result = ingest("01_new_plain.eml", mailbox)  # never raises to the poller
    assert result.status == InboundStatus.QUARANTINED
    row = Quarantine.objects.get()
    assert "RuntimeError: database hiccup" in row.error
    assert not InboundMessage.objects.exists()  # rolled back with the ticket

    monkeypatch.setattr(services.ticket_services, "create_ticket", original)
    inbound = services.retry_quarantined(row)
    row.refresh_from_db()
    assert inbound is not None and row.resolved_at is not None and row.inbound == inbound
    assert inbound.ticket.subject == "Export to CSV times out"


def test_message_over_the_size_limit_is_quarantined(mailbox, settings):
    settings.MAILGATE_MAX_MESSAGE_BYTES = 500
    result = ingest("01_new_plain.eml", mailbox)
    assert result.status == InboundStatus.QUARANTINED
    assert "limit is 500 bytes" in Quarantine.objects.get().error


def test_web_ticket_reply_by_mail_with_token_is_accepted(mailbox, customer_a):
    ticket = make_ticket(customer_a)  # filed in the portal, customer answers by mail
    result = ingest("04_apple_mail_reply.eml", mailbox, ticket.pk)
    assert result.ticket == ticket
    assert Attachment.objects.filter(message__ticket=ticket).count() == 1


def test_agent_mailing_a_ticket_token_needs_to_see_the_ticket(mailbox, thread, l2):
    outsider = make_user(Role.AGENT, teams=(l2,), username="otto")
    raw = corpus("04_apple_mail_reply.eml", thread.pk).replace(
        b"From: Alice Smith <alice@acme.example>", f"From: <{outsider.email}>".encode())
    result = services.ingest(raw, mailbox)
    assert result.ticket != thread and thread.messages.count() == 0


def test_a_mail_system_notice_without_an_address_is_quarantined(mailbox):
    raw = b"From: postmaster\nTo: support@helpdesk.test\nSubject: Hello\n\nNo address here.\n"
    result = services.ingest(raw, mailbox)
    assert result.status == InboundStatus.QUARANTINED
    assert "no valid From address" in Quarantine.objects.get().error
    assert not User.objects.filter(email="").exists()

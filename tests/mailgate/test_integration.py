"""End to end over real servers: Dovecot (IMAP) on a high port and aiosmtpd (SMTP).

mail → ticket → agent reply → mail → customer reply → same ticket; and agent replies whose
bounces come back by the webhook and by IMAP onto the right tickets.
Skipped only when the `dovecot` binary is missing (local dev); scripts/test.sh installs
dovecot-imapd, so CI runs it.
"""
from __future__ import annotations

import datetime as dt
import imaplib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from mailgate import bounces, tasks
from mailgate.models import HeldEmail, InboundMessage, Mailbox, OutboundEmail, OutboundStatus
from tickets import services as ticket_services
from tickets import surveys
from tickets.models import Message, Ticket
from tickets.state_machine import Status

from .conftest import delivery_report

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists()
                                      else None)
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(DOVECOT is None, reason="dovecot is not installed (CI installs it)"),
    # The throwaway mail directory is handed to the `mail` user, which needs root.
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a throwaway Dovecot"),
]

USER, PASSWORD = "support@helpdesk.test", "imap-Secret-42"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, *, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)  # a real server starting up, not simulated time
    raise RuntimeError(f"nothing listens on {port}")


@pytest.fixture
def dovecot():
    # Not pytest's tmp_path: its parent is root-only, and Dovecot's auth and mail
    # processes (users dovecot and mail) must reach the files.
    tmp_path = Path(tempfile.mkdtemp(prefix="mailgate-dovecot-"))
    os.chmod(tmp_path, 0o755)
    port = free_port()
    (tmp_path / "run").mkdir()
    (tmp_path / "mail").mkdir()
    (tmp_path / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    conf = tmp_path / "dovecot.conf"
    conf.write_text(f"""
protocols = imap
listen = 127.0.0.1
base_dir = {tmp_path}/run
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {tmp_path}/users
}}
userdb {{
  driver = static
  args = uid=mail gid=mail home={tmp_path}/mail/%u
}}
mail_location = maildir:{tmp_path}/mail/%u
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
log_path = {tmp_path}/dovecot.log
first_valid_uid = 0
""")
    shutil.chown(tmp_path / "mail", "mail", "mail")
    subprocess.run([DOVECOT, "-c", str(conf)], check=True)
    try:
        wait_for_port(port)
        yield port
    finally:
        pid_file = tmp_path / "run" / "master.pid"
        if pid_file.exists():
            os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
        shutil.rmtree(tmp_path, ignore_errors=True)


def no_staff_email(agent) -> None:
    """Only the customers' mail is counted here: the agent's notices (assigned, customer
    answered) stay in the bell; they are tested in tests/tickets/test_staff_notices.py."""
    from helpdesk.models import NotificationPreference

    NotificationPreference.objects.create(user=agent, email_enabled=False)


class Recorder:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_sink(settings):
    from aiosmtpd.controller import Controller

    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield recorder
    finally:
        controller.stop()


def deliver(port: int, message: EmailMessage | bytes) -> None:
    """Put a message into the INBOX over IMAP, as the mail server would deliver it."""
    conn = imaplib.IMAP4("127.0.0.1", port)
    conn.login(USER, PASSWORD)
    raw = message if isinstance(message, bytes) else message.as_bytes(policy=policy.SMTP)
    typ, _ = conn.append("INBOX", "", imaplib.Time2Internaldate(time.time()), raw)
    assert typ == "OK"
    conn.logout()


def customer_mail(subject: str, body: str, *, sender: str = "Carol Jones <carol@acme.example>",
                  **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "Support <support@helpdesk.test>"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(timezone.now())
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def test_mail_to_ticket_to_reply_to_mail_and_back(dovecot, smtp_sink, monkeypatch, org_a,
                                                  agent):
    no_staff_email(agent)
    monkeypatch.setenv("MAILGATE_IT_PASSWORD", PASSWORD)
    mailbox = Mailbox.objects.create(
        name="support", address=USER, imap_host="127.0.0.1", imap_port=dovecot,
        imap_tls=False, username=USER, password_env="MAILGATE_IT_PASSWORD")

    # 1. A customer writes; the beat job polls the mailbox: a ticket.
    deliver(dovecot, customer_mail("Export to CSV times out", "The export fails since today.",
                                   Message_ID="<first.carol@acme.example>"))
    assert tasks.poll_mailboxes() == 1
    ticket = Ticket.objects.get()
    assert ticket.requester.email == "carol@acme.example"
    assert ticket.description == "The export fails since today."
    mailbox.refresh_from_db()
    assert mailbox.last_uid == 1 and mailbox.last_error == ""

    # The customer got the acknowledgement, with the reference and the portal link.
    [(_, [to_ack], ack)] = smtp_sink.messages
    ack = message_from_bytes(ack, policy=policy.default)
    assert to_ack == "carol@acme.example" and ack["Auto-Submitted"] == "auto-generated"
    assert ack["Subject"] == f"We received your request: Export to CSV times out [HD-{ticket.pk}]"
    smtp_sink.messages.clear()

    # 2. The agent answers in the workspace: one mail over real SMTP, threaded.
    ticket_services.add_reply(ticket, author=agent, body="Please try the export again now.")
    [(mail_from, rcpt, data)] = smtp_sink.messages
    assert rcpt == ["carol@acme.example"] and mail_from == USER
    sent = message_from_bytes(data, policy=policy.default)
    assert sent["Subject"] == f"Re: Export to CSV times out [HD-{ticket.pk}]"
    assert sent["In-Reply-To"] == "<first.carol@acme.example>"
    assert sent["References"].startswith("<first.carol@acme.example> ")  # then our ack
    assert sent["Reply-To"] == USER
    assert sent.get_body(("plain",)).get_content().startswith("Please try the export again")
    assert sent.get_body(("html",)) is not None
    row = OutboundEmail.objects.get(kind="reply")
    assert row.status == OutboundStatus.SENT and sent["Message-ID"] == f"<{row.message_id}>"

    # 3. The customer answers that mail (no token in the subject): same ticket.
    answer = customer_mail(
        "Re: Export to CSV times out", "Works now, thanks!\n\n"
        f"On Fri, Agnes via support <{USER}> wrote:\n> Please try the export again now.",
        Message_ID="<second.carol@acme.example>", In_Reply_To=sent["Message-ID"],
        References=f"<first.carol@acme.example> {sent['Message-ID']}")
    deliver(dovecot, answer)
    assert tasks.poll_mailbox(mailbox.pk) == 1
    assert Ticket.objects.count() == 1
    reply = ticket.messages.filter(by_agent=False).order_by("-pk").first()
    assert reply.body == "Works now, thanks!"
    assert InboundMessage.objects.get(message_id="second.carol@acme.example").ticket == ticket

    # 4. Polling again fetches nothing new; forgetting the UID re-fetches but ingests once.
    assert tasks.poll_mailbox(mailbox.pk) == 0
    Mailbox.objects.filter(pk=mailbox.pk).update(last_uid=0)
    assert tasks.poll_mailbox(mailbox.pk) == 2
    assert InboundMessage.objects.count() == 2 and ticket.messages.count() == 2  # agent + Carol
    assert len(smtp_sink.messages) == 1


def test_wrong_password_is_recorded_on_the_mailbox_not_raised(dovecot, monkeypatch, db):
    monkeypatch.setenv("MAILGATE_IT_PASSWORD", "wrong")
    mailbox = Mailbox.objects.create(
        name="support", address=USER, imap_host="127.0.0.1", imap_port=dovecot,
        imap_tls=False, username=USER, password_env="MAILGATE_IT_PASSWORD")
    assert tasks.poll_mailbox(mailbox.pk) == 0
    mailbox.refresh_from_db()
    assert mailbox.last_error.startswith("Cannot connect:")
    assert mailbox.last_polled_at is not None


def test_bounces_of_replies_come_back_by_webhook_and_by_imap_onto_their_tickets(
        dovecot, smtp_sink, monkeypatch, client, settings, org_a, agent):
    """Two customers write in; the agent answers both over real SMTP; both answers bounce.
    Carol's report is posted to the webhook by the MTA, Dave's lands in the mailbox and the
    poller fetches it. Each becomes a note on its own ticket and marks its address; then
    automatic mail to them is held while the agent's replies still go out."""
    monkeypatch.setenv("MAILGATE_IT_PASSWORD", PASSWORD)
    monkeypatch.setenv("MAILGATE_IT_TOKEN", "it-Webhook-token-7")
    mailbox = Mailbox.objects.create(
        name="support", address=USER, imap_host="127.0.0.1", imap_port=dovecot,
        imap_tls=False, username=USER, password_env="MAILGATE_IT_PASSWORD",
        webhook_token_env="MAILGATE_IT_TOKEN")
    no_staff_email(agent)
    deliver(dovecot, customer_mail("Export to CSV times out", "The export fails.",
                                   Message_ID="<export.carol@acme.example>"))
    deliver(dovecot, customer_mail("Invoice PDF empty", "The PDF has no pages.",
                                   sender="Dave Ng <dave@globex.example>",
                                   Message_ID="<pdf.dave@globex.example>"))
    tasks.poll_mailboxes()
    carols = Ticket.objects.get(requester__email="carol@acme.example")
    daves = Ticket.objects.get(requester__email="dave@globex.example")
    smtp_sink.messages.clear()  # the acknowledgements
    ticket_services.add_reply(carols, author=agent, body="Try the export again now.")
    ticket_services.add_reply(daves, author=agent, body="Please send the invoice number.")
    [(_, [to_carol], to_carols), (_, [to_dave], to_daves)] = smtp_sink.messages
    assert (to_carol, to_dave) == ("carol@acme.example", "dave@globex.example")

    report = delivery_report(to_carols, "carol@acme.example")
    response = client.post(reverse("mailgate:inbound", args=["support"]), data=report,
                           content_type="message/rfc822",
                           HTTP_AUTHORIZATION="Bearer it-Webhook-token-7")
    assert response.status_code == 202
    assert response.json() == {"status": "bounce", "duplicate": False, "ticket": carols.pk}
    deliver(dovecot, delivery_report(to_daves, "dave@globex.example", status="5.2.2",
                                     diagnostic="552 5.2.2 Mailbox full", mta="mx.globex.example"))
    assert tasks.poll_mailbox(mailbox.pk) == 1

    for ticket, line in ((carols, "Delivery to carol@acme.example failed: 5.1.1 user unknown"),
                         (daves, "Delivery to dave@globex.example failed: 5.2.2 mailbox full")):
        [note] = ticket.messages.filter(is_public=False)
        assert note.body.startswith(f"**{line}**") and note.author is None
    assert bounces.held_addresses(["carol@acme.example", "dave@globex.example"]) == {
        "carol@acme.example", "dave@globex.example"}
    assert Ticket.objects.count() == 2 and len(smtp_sink.messages) == 2  # nothing answered

    # Automatic mail is held; the agent's own reply still goes out.
    settings.HELPDESK_SURVEY_DELAY = dt.timedelta(minutes=1)
    ticket_services.transition(carols, Status.RESOLVED, actor=agent)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=5), tick=False):
        surveys.send_due_surveys()
    ticket_services.add_reply(daves, author=agent, body="We found the invoice anyway.")
    assert [rcpt for _, rcpt, _ in smtp_sink.messages[2:]] == [["dave@globex.example"]]
    assert sorted(HeldEmail.objects.values_list("kind", flat=True)) == ["notice", "survey"]

    # The same report again, by either door, changes nothing.
    again = client.post(reverse("mailgate:inbound", args=["support"]), data=report,
                        content_type="message/rfc822",
                        HTTP_AUTHORIZATION="Bearer it-Webhook-token-7")
    assert again.status_code == 200 and again.json()["duplicate"] is True
    Mailbox.objects.filter(pk=mailbox.pk).update(last_uid=0)
    tasks.poll_mailbox(mailbox.pk)
    assert Message.objects.filter(is_public=False).count() == 2

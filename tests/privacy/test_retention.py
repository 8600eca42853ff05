"""Retention with time travel: raw e-mail, attachments and closed tickets' conversation are
purged after their period (the organization's own, else the global one), in batches, after
a dry run that changes nothing; a legal hold on an organization or ticket stops it."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from mailgate import services as mail
from mailgate.models import InboundMessage, Mailbox
from privacy.models import LegalHold, RetentionPolicy, RetentionRun
from privacy.retention import PURGED_TEXT, apply_retention
from privacy.tasks import apply_retention as retention_task
from tests.factories import make_ticket
from tickets import services as tickets
from tickets.models import Attachment, Message, Ticket

from .conftest import raw_email

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2025, 1, 6, 10, 0, tzinfo=dt.UTC)


def closed_ticket(requester, agent, text: str) -> Ticket:
    ticket = make_ticket(requester, subject=f"About {text}", description=f"Details {text}")
    tickets.add_reply(ticket, author=requester, body=f"More on {text}", attachments=[
        SimpleUploadedFile(f"{text}.txt", text.encode(), content_type="text/plain")])
    tickets.add_reply(ticket, author=agent, body=f"Answer on {text}")
    Ticket.objects.filter(pk=ticket.pk).update(status="closed", closed_at=T0)
    return ticket


@pytest.fixture
def world(settings, tmp_path, customer_a, customer_b, agent, org_a, org_b,
          django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVACY_RETAIN_RAW_EMAIL_DAYS = 90
    settings.PRIVACY_RETAIN_ATTACHMENT_DAYS = 180
    settings.PRIVACY_RETAIN_CLOSED_TICKET_DAYS = 365
    with time_machine.travel(T0, tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        RetentionPolicy.objects.create(organization=org_a, closed_ticket_days=30)
        purged = closed_ticket(customer_a, agent, "acme-old")
        held_ticket = closed_ticket(customer_a, agent, "acme-held")
        held_org = closed_ticket(customer_b, agent, "globex-held")
        LegalHold.objects.create(ticket=held_ticket, reason="Litigation 2025-3")
        LegalHold.objects.create(organization=org_b, reason="Regulator inquiry")
        mailbox = Mailbox.objects.create(name="support", address="support@helpdesk.test")
        mail.ingest(raw_email("Mail from alice", "body", "attached").replace(
            b"Zebulon Quackenbush <zebulon.quackenbush@acme.example>",
            customer_a.email.encode()), mailbox)
    return {"purged": purged, "held_ticket": held_ticket, "held_org": held_org}


def bodies(ticket: Ticket) -> set[str]:
    return set(Message.objects.filter(ticket=ticket).values_list("body", flat=True))


def test_a_dry_run_counts_and_changes_nothing(world):
    with time_machine.travel(T0 + dt.timedelta(days=40)):
        run = apply_retention(dry_run=True)
    assert (run.tickets, run.raw_emails, run.attachments) == (1, 0, 0)
    assert PURGED_TEXT not in bodies(world["purged"])
    assert RetentionRun.objects.get().dry_run


def test_closed_tickets_text_goes_after_the_organizations_own_period(world):
    with time_machine.travel(T0 + dt.timedelta(days=29)):
        assert apply_retention().tickets == 0
    with time_machine.travel(T0 + dt.timedelta(days=31)):
        assert apply_retention().tickets == 1
    assert bodies(world["purged"]) == {PURGED_TEXT}
    ticket = Ticket.objects.get(pk=world["purged"].pk)
    assert ticket.description == PURGED_TEXT and ticket.subject == "About acme-old"
    # Held: the ticket's own hold, and the whole of Globex.
    assert PURGED_TEXT not in bodies(world["held_ticket"])
    with time_machine.travel(T0 + dt.timedelta(days=400)):
        apply_retention()
    assert PURGED_TEXT not in bodies(world["held_org"])
    assert PURGED_TEXT not in bodies(world["held_ticket"])


def test_raw_email_and_attachments_go_after_the_global_periods(
        world, django_capture_on_commit_callbacks):
    inbound = InboundMessage.objects.get()
    raw_file = Path(settings.MEDIA_ROOT) / inbound.raw.name
    assert raw_file.exists()
    with time_machine.travel(T0 + dt.timedelta(days=91)), \
            django_capture_on_commit_callbacks(execute=True):
        run = apply_retention()
    assert run.raw_emails == 1 and run.attachments == 0
    inbound.refresh_from_db()
    assert not inbound.raw and not raw_file.exists()
    kept = Attachment.objects.get(message__ticket=world["purged"])
    kept_file = Path(settings.MEDIA_ROOT) / kept.file.name
    with time_machine.travel(T0 + dt.timedelta(days=181)), \
            django_capture_on_commit_callbacks(execute=True):
        run = apply_retention()
    assert run.attachments >= 1
    assert not kept_file.exists()
    held = Attachment.objects.filter(message__ticket__in=[world["held_org"],
                                                          world["held_ticket"]])
    assert all((Path(settings.MEDIA_ROOT) / a.file.name).exists() for a in held)


def test_batches_drain_a_backlog_and_a_released_hold_lets_purging_resume(world, org_b):
    LegalHold.objects.update(released_at=T0)
    with time_machine.travel(T0 + dt.timedelta(days=400)):
        assert apply_retention(dry_run=True).tickets == 3
        assert retention_task.run(dry_run=False)["tickets"] >= 1
        first = apply_retention(batch=1).tickets
        second = apply_retention(batch=1).tickets
        assert apply_retention(batch=1).tickets == 0
    assert first + second <= 2
    assert all(bodies(world[k]) == {PURGED_TEXT} for k in world)


def test_the_command_says_what_it_would_do(world, capsys):
    with time_machine.travel(T0 + dt.timedelta(days=40)):
        call_command("apply_retention", "--dry-run")
    assert "would purge: 0 raw e-mails, 0 attachments, 1 closed tickets" in capsys.readouterr().out
    assert PURGED_TEXT not in bodies(world["purged"])


def test_quarantined_mail_goes_after_the_global_raw_email_period(
        world, django_capture_on_commit_callbacks):
    with time_machine.travel(T0, tick=False):
        mail.quarantine(b"From: x\r\n\r\nunparseable \xff", None, error="broken")
    from mailgate.models import Quarantine

    item = Quarantine.objects.get()
    path = Path(settings.MEDIA_ROOT) / item.raw.name
    assert path.exists()
    with time_machine.travel(T0 + dt.timedelta(days=89)):
        assert apply_retention(dry_run=True).raw_emails == 0
    with time_machine.travel(T0 + dt.timedelta(days=91)), \
            django_capture_on_commit_callbacks(execute=True):
        assert apply_retention().raw_emails == 2  # the ingested mail and this one
    assert not path.exists()

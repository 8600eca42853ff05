"""Importing a real django-helpdesk 2.6.1 database (built by conftest.dh_source)."""
from __future__ import annotations

import csv
import hashlib
import shutil
import sqlite3
from datetime import datetime, timedelta

import pytest
import time_machine
from django.contrib.auth import authenticate
from django.core import mail
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection

from helpdesk.models import Membership, Notification, Organization, Team, User
from helpdesk.roles import Role
from importers.loader import Loader, Options
from importers.models import ImportedRecord, ImportProblem, ImportRun, RunStatus
from importers.sources.django_helpdesk import DjangoHelpdeskSource
from knowledge.models import Article, ArticleStatus, Audience, Section
from mailgate.models import OutboundEmail
from sla.escalation import fire_due_levels
from sla.models import Clock, ClockEvent, ClockLevelFire, ClockState, Metric
from tickets import events, services, surveys
from tickets.models import (
    Attachment,
    EventKind,
    Message,
    Survey,
    Ticket,
    TicketEvent,
    TimeEntry,
)

from .conftest import NOW, run_import

pytestmark = pytest.mark.django_db


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def imported(kind: str, key: int) -> int:
    return ImportedRecord.objects.get(kind=kind, source_key=key).target_id


def ticket_of(dh_source, key: str) -> Ticket:
    return Ticket.objects.get(pk=imported("ticket", dh_source.ticket(key)["id"]))


def do_import(dh_source, *args: str) -> str:
    return run_import("import_django_helpdesk", dh_source.location, "--media-root",
                      str(dh_source.media_root), *args)


@pytest.fixture
def imported_once(dh_source, at_now, media, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        output = do_import(dh_source)
    return output


def test_tickets_people_and_conversations_match_the_source(dh_source, imported_once):
    m = dh_source.manifest
    # Ten tickets imported, the one whose queue is gone reported instead.
    assert Ticket.objects.count() == len(m["tickets"]) - 1
    assert ImportedRecord.objects.filter(kind="ticket").count() == len(m["tickets"]) - 1

    t2 = ticket_of(dh_source, "in_progress")
    src = dh_source.ticket("in_progress")
    assert (t2.subject, t2.description) == (src["title"], src["description"])
    assert t2.created_at == when(src["created"]) and t2.updated_at == when(src["modified"])
    assert t2.status == "in_progress" and t2.assignee.username == "sam"
    assert t2.team.name == "Support" and t2.requester.username == "alice"
    # The opening follow-up repeats the description: not a second copy. The rest word for
    # word, at their original times, public replies and internal notes as they were.
    conversation = [(msg.body, msg.is_public, msg.by_agent, msg.created_at)
                    for msg in t2.messages.order_by("created_at")]
    assert conversation == [
        (f["comment"], f["public"], True, when(f["date"])) for f in src["followups"][1:]]
    assert t2.first_response_at == when(src["followups"][1]["date"])
    entry = TimeEntry.objects.get(ticket=t2)
    assert (entry.minutes, entry.agent.username) == (25, "sam")

    # Statuses: open by mail, resolved yesterday, resolved long ago (closed four days
    # later as this product would have), closed, duplicate merged, reopened on hold.
    expect = {"new_by_mail": "new", "resolved": "resolved", "resolved_long_ago": "closed",
              "closed": "closed", "duplicate": "closed", "on_hold": "waiting_on_third_party",
              "overdue": "assigned", "billing": "assigned"}
    assert {k: ticket_of(dh_source, k).status for k in expect} == expect
    old = ticket_of(dh_source, "resolved_long_ago")
    resolved = when(dh_source.ticket("resolved_long_ago")["followups"][-1]["date"])
    assert old.resolved_at == resolved and old.closed_at == resolved + timedelta(days=4)
    assert ticket_of(dh_source, "duplicate").merged_into == ticket_of(dh_source, "new_by_mail")
    assert ticket_of(dh_source, "on_hold").reopen_count == 1
    assert ticket_of(dh_source, "overdue").priority == 1

    # People: matched by e-mail whatever its case, customers in their domain's
    # organization (none for public mail providers), staff as agents, e-mail-only
    # submitters and CCs as customers.
    bob = ticket_of(dh_source, "new_by_mail").requester
    assert bob.email == "bob@acme.example" and bob.organization.domain == "acme.example"
    assert bob.organization == User.objects.get(username="alice").organization
    assert ticket_of(dh_source, "resolved_long_ago").requester.organization is None
    assert ticket_of(dh_source, "billing").requester.username == "dave"
    assert User.objects.filter(email__iexact="dave@initech.example").count() == 1
    assert User.objects.get(username="sam").is_agent
    assert set(User.objects.get(username="hd_admin").groups.values_list("name", flat=True)) \
        == {Role.ADMIN}
    assert not User.objects.get(username="hd_admin").is_superuser
    assert set(ticket_of(dh_source, "overdue").ccs.values_list("email", flat=True)) == {
        "Dave@Initech.example", "zed@globex.example"}
    assert Membership.objects.filter(user__username="kim", team__name="Billing").exists()

    # Fields without a column here: one internal note, word for word.
    note = ticket_of(dh_source, "new_by_mail").messages.get(is_public=False)
    assert "**Customer tier**: Gold" in note.body
    assert "**Operating system**: Linux" in note.body
    overdue_note = ticket_of(dh_source, "overdue").messages.get(is_public=False).body
    assert "Due on" in overdue_note and "Depends on" in overdue_note


def test_attachments_are_copied_byte_for_byte(dh_source, imported_once):
    src = dh_source.ticket("new_by_mail")["followups"][1]["attachments"][0]
    attachment = Attachment.objects.get(message__ticket=ticket_of(dh_source, "new_by_mail"))
    with default_storage.open(attachment.file.name) as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == src["sha256"]
    assert (attachment.filename, attachment.size) == ("vpn-client.log", 18)
    assert attachment.created_at == when(dh_source.ticket("new_by_mail")["followups"][1]["date"])


def test_audit_trail_keeps_original_times_and_actors(dh_source, imported_once):
    t3 = ticket_of(dh_source, "resolved")
    src = dh_source.ticket("resolved")
    trail = [(e.kind, e.field, e.after, e.actor.username if e.actor else None, e.created_at)
             for e in t3.events.order_by("created_at", "id")]
    resolved_at = when(src["followups"][1]["date"])
    assert trail[0] == ("created", "", src["title"], "alice", when(src["created"]))
    assert ("status", "status", "resolved", "kim", resolved_at) in trail
    assert ("reply", "", "", "kim", resolved_at) in trail
    # django-helpdesk's "Status" change is the status event, not a second line.
    assert [e for e in trail if e[0] == "field" and e[1] == "status"] == []
    owner = ticket_of(dh_source, "in_progress").events.get(kind=EventKind.FIELD)
    assert (owner.field, owner.after) == ("assignee", "sam")


def test_knowledge_base_becomes_the_help_center(dh_source, imported_once):
    kb = dh_source.manifest["kb"]
    article = Article.objects.get(pk=imported("article", kb["reset"]["id"]))
    assert article.status == ArticleStatus.PUBLISHED and article.audience == Audience.PUBLIC
    assert article.body.endswith(kb["reset"]["answer"])
    assert article.updated_at == when(kb["reset"]["updated"])
    assert (article.helpful_count, article.unhelpful_count) == (8, 2)
    assert article.section.name == "Getting started"
    retired = Article.objects.get(pk=imported("article", kb["retired"]["id"]))
    assert retired.status == ArticleStatus.DRAFT
    runbook = Article.objects.get(pk=imported("article", kb["runbook"]["id"]))
    assert runbook.audience == Audience.INTERNAL
    assert Section.objects.count() == 2


def test_rows_that_cannot_be_imported_are_reported_and_the_rest_goes_on(
        dh_source, imported_once, tmp_path):
    problems = {(p.kind, p.reason) for p in ImportProblem.objects.all()}
    assert problems == {("ticket", "refers to a missing queue"),
                        ("attachment", "file missing on disk"),
                        ("user", "follow-up author refers to a missing user")}
    run = ImportRun.objects.get()
    assert run.status == RunStatus.FINISHED
    assert run.counts["tickets"] == {"new": 10, "failed": 1}
    assert "3 rows could not be imported" in imported_once
    # The follow-up of the missing author and the message without its file are there.
    note = ticket_of(dh_source, "on_hold").messages.get(body="Waiting on Okta support.")
    assert note.author is None
    assert ticket_of(dh_source, "missing_file").messages.get(
        body="Second try with the file.").attachments.count() == 0


def test_nothing_is_sent_or_fired_for_the_past(dh_source, at_now, media,
                                               django_capture_on_commit_callbacks):
    """No domain event, e-mail, notification, survey or outbound reply for imported
    history; the SLA levels already passed stay silent; future ones still fire."""
    seen = []
    kinds = [events.TicketCreated, events.PublicReply, events.StatusChanged,
             events.PriorityChanged, events.Assigned, events.TagsChanged, events.Reopened,
             events.Merged, events.Escalated]
    for kind in kinds:
        events.subscribe(kind, seen.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            do_import(dh_source)
            fire_due_levels()
            surveys.send_due_surveys()
            services.close_stale_resolved(days=4)
    finally:
        for kind in kinds:
            events.unsubscribe(kind, seen.append)
    assert seen == []
    assert mail.outbox == []
    assert Notification.objects.count() == 0
    assert Survey.objects.count() == 0
    assert OutboundEmail.objects.count() == 0

    # The urgent ticket open for ten days: clocks from its creation, breached at their due
    # time, every level recorded as passed without anyone told.
    overdue = ticket_of(dh_source, "overdue")
    first = Clock.objects.get(ticket=overdue, metric=Metric.FIRST_RESPONSE)
    assert first.started_at == overdue.created_at
    assert first.state == ClockState.BREACHED and first.breached_at == first.due_at
    # P1: 15 minutes, times 4 for a free-tier organization, on the 24/7 calendar.
    assert first.due_at == overdue.created_at + timedelta(hours=1)
    assert ClockLevelFire.objects.filter(clock=first).count() == 5
    assert all(f.fired_at == NOW for f in ClockLevelFire.objects.filter(clock=first))
    assert ClockEvent.objects.filter(clock=first, kind="level",
                                     reason__contains="nobody was notified").count() == 5
    assert overdue.sla_level == "severe" and overdue.sla_due_at is not None
    # Closed and resolved tickets have no clocks; closed tickets stay closed.
    assert not Clock.objects.filter(ticket__status__in=["closed", "resolved"]).exists()

    # Levels still ahead fire as usual, once time gets there.
    with time_machine.travel(NOW + timedelta(days=30), tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        fire_due_levels()
    assert Notification.objects.exists()
    assert not Notification.objects.filter(title__contains=f"#{overdue.pk} First").exists()


def test_a_second_run_duplicates_nothing_and_a_changed_source_adds_only_the_change(
        dh_source, at_now, media, tmp_path, django_capture_on_commit_callbacks):
    if dh_source.sqlite_path is None:
        pytest.skip("the source is changed through its SQLite copy")
    source = tmp_path / "copy.sqlite3"
    shutil.copy(dh_source.sqlite_path, source)
    args = ("--media-root", str(dh_source.media_root))
    run_import("import_django_helpdesk", source, *args)
    before = (Ticket.objects.count(), Message.objects.count(), TicketEvent.objects.count(),
              User.objects.count(), Organization.objects.count(), Article.objects.count(),
              Team.objects.count(), Clock.objects.count(), Attachment.objects.count())
    output = run_import("import_django_helpdesk", source, *args)
    after = (Ticket.objects.count(), Message.objects.count(), TicketEvent.objects.count(),
             User.objects.count(), Organization.objects.count(), Article.objects.count(),
             Team.objects.count(), Clock.objects.count(), Attachment.objects.count())
    assert after == before
    assert "tickets               unchanged 8 · retried 2" in output

    # A day later the agent answers ticket 1 and resolves the ticket in progress.
    later = NOW + timedelta(days=1)
    t1, t2 = dh_source.ticket("new_by_mail")["id"], dh_source.ticket("in_progress")["id"]
    sam = dh_source.manifest["users"]["sam"]["id"]
    stamp = later.strftime("%Y-%m-%d %H:%M:%S")
    with sqlite3.connect(source) as conn:
        conn.execute("INSERT INTO helpdesk_followup (ticket_id, date, title, comment, public,"
                     " user_id, new_status) VALUES (?, ?, 'Comment', 'Try client 5.1.', 1, ?,"
                     " NULL)", [t1, stamp, sam])
        conn.execute("INSERT INTO helpdesk_followup (ticket_id, date, title, comment, public,"
                     " user_id, new_status) VALUES (?, ?, 'Resolved', 'Fixed in 4.2.', 1, ?,"
                     " 3)", [t2, stamp, sam])
        conn.execute("UPDATE helpdesk_ticket SET modified = ?, status = CASE id WHEN ? THEN 3"
                     " ELSE status END WHERE id IN (?, ?)", [stamp, t2, t1, t2])
    with time_machine.travel(later + timedelta(hours=1), tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        output = run_import("import_django_helpdesk", source, *args)
    assert Message.objects.count() == before[1] + 2
    assert Ticket.objects.count() == before[0]
    answered, solved = ticket_of(dh_source, "new_by_mail"), ticket_of(dh_source, "in_progress")
    assert answered.first_response_at == later
    assert solved.status == "resolved" and solved.resolved_at == later
    # The clocks moved at the original instants, through the SLA services.
    first = Clock.objects.get(ticket=answered, metric=Metric.FIRST_RESPONSE)
    assert first.completed_at == later and first.state == ClockState.BREACHED
    resolution = Clock.objects.get(ticket=solved, metric=Metric.RESOLUTION)
    assert resolution.completed_at == later and resolution.state == ClockState.MET
    assert mail.outbox == [] and Survey.objects.count() == 0


def test_an_interrupted_run_resumes_where_it_stopped(dh_source, at_now, media):
    def stop_after_first_chunk(done: int) -> None:
        raise KeyboardInterrupt

    source = DjangoHelpdeskSource(dh_source.location, media_root=dh_source.media_root)
    loader = Loader(source, Options(chunk_size=4, rollup=False, progress=False,
                                    after_chunk=stop_after_first_chunk), out=lambda s: None)
    with pytest.raises(KeyboardInterrupt):
        loader.run()
    assert ImportRun.objects.get().status == RunStatus.INTERRUPTED
    assert Ticket.objects.count() == 4
    run_import("import_django_helpdesk", dh_source.location, "--chunk-size", "4",
               "--media-root", str(dh_source.media_root))
    assert Ticket.objects.count() == 10
    keys = list(ImportedRecord.objects.filter(kind="ticket").values_list("source_key",
                                                                          flat=True))
    assert len(keys) == len(set(keys)) == 10
    assert Message.objects.filter(ticket__subject="Export to CSV times out").count() == 2


def test_queue_mapping_report_and_clear_errors(dh_source, at_now, media, tmp_path, l2):
    report = tmp_path / "report.csv"
    output = do_import(dh_source, "--map-queue", "billing=l2-technical", "--report", str(report))
    assert ticket_of(dh_source, "billing").team == l2
    assert not Team.objects.filter(name="Billing").exists()
    rows = list(csv.DictReader(report.open()))
    assert {r["reason"] for r in rows} >= {"refers to a missing queue", "file missing on disk"}
    assert f"Report written to {report}" in output

    with pytest.raises(CommandError, match="No SQLite database"):
        call_command("import_django_helpdesk", "--from", str(tmp_path / "nope.sqlite3"))
    empty = tmp_path / "empty.sqlite3"
    sqlite3.connect(empty).close()
    with pytest.raises(CommandError, match="not a django-helpdesk database"):
        call_command("import_django_helpdesk", "--from", str(empty))
    with pytest.raises(CommandError, match="does not exist"):
        do_import(dh_source, "--name", "other", "--map-queue", "support=no-such-team")
    with pytest.raises(CommandError, match="SOURCE=TARGET"):
        do_import(dh_source, "--map-queue", "support")


def test_people_keep_their_password(dh_source, at_now, media, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher",
                                 "django.contrib.auth.hashers.MD5PasswordHasher"]
    do_import(dh_source)
    assert authenticate(username="alice", password="alice-pass-123") is not None
    assert not User.objects.get(username="sam").has_usable_password()


def test_imported_tickets_cost_no_more_queries_than_native_ones(
        dh_source, imported_once, client, django_capture_on_commit_callbacks):
    """The agent's queue and ticket page on imported data: same query count as on tickets
    created through the services (no per-row or per-message query)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    sam = User.objects.get(username="sam")
    client.force_login(sam)
    alice = User.objects.get(username="alice")
    with django_capture_on_commit_callbacks(execute=True):  # its SLA clocks start too
        native = services.create_ticket(requester=alice, subject="Native", description="x")
        native.team = ticket_of(dh_source, "on_hold").team
        native.assignee = ticket_of(dh_source, "on_hold").assignee
        native.save()
        services.add_reply(native, author=sam, body="one", public=True)
        services.add_reply(native, author=alice, body="two", public=True)
        services.add_reply(native, author=sam, body="three", public=False)

    def cost(url: str) -> int:
        client.get(url)  # warm caches
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    imported = ticket_of(dh_source, "on_hold")  # three messages, a note, a breached clock
    assert cost(reverse("agent:ticket", args=[imported.pk])) <= \
        cost(reverse("agent:ticket", args=[native.pk]))
    page = client.get(reverse("agent:queue", kwargs={"name": "open"}))
    assert imported.subject in page.content.decode()


def test_a_fast_load_imports_the_same_tickets(dh_source, at_now, media,
                                              django_capture_on_commit_callbacks):
    """--fast-load only turns the foreign-key triggers off (PostgreSQL superuser): the
    same tickets, conversations, audit trail and clocks as a normal run."""
    def contents() -> list:
        return [sorted(Ticket.objects.values_list("subject", "status", "sla_due_at")),
                sorted(Message.objects.values_list("body", "is_public", "created_at")),
                sorted(TicketEvent.objects.values_list("kind", "created_at", "after")),
                sorted(Clock.objects.values_list("metric", "state", "due_at", "breached_at")),
                ClockLevelFire.objects.count(), Attachment.objects.count()]

    with django_capture_on_commit_callbacks(execute=True):
        do_import(dh_source, "--name", "normal")
    normal = contents()
    Ticket.objects.all().delete()
    ImportedRecord.objects.filter(kind__in=["ticket", "entry", "attachment"]).delete()
    with django_capture_on_commit_callbacks(execute=True):
        output = do_import(dh_source, "--name", "normal", "--fast-load")
    assert contents() == normal
    assert ("foreign keys stay checked" in output) == (connection.vendor != "postgresql")


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="the second writing thread runs on PostgreSQL only")
def test_chunks_written_by_a_second_thread_land_whole_and_in_order(dh_source, at_now, media):
    """Outside a transaction, on PostgreSQL, one thread reads and builds the next chunk
    while another writes the last one: every ticket lands once, with its conversation,
    records and clocks, and the progress counts committed chunks only."""
    seen: list[int] = []
    source = DjangoHelpdeskSource(dh_source.location, media_root=dh_source.media_root)
    run = Loader(source, Options(chunk_size=3, rollup=False, progress=False,
                                 after_chunk=seen.append), out=lambda s: None).run()
    assert run.status == RunStatus.FINISHED
    assert seen == [3, 6, 9, 11]  # 11 source tickets, the one with a broken queue reported
    assert Ticket.objects.count() == 10
    keys = list(ImportedRecord.objects.filter(kind="ticket").values_list("source_key",
                                                                          flat=True))
    assert len(keys) == len(set(keys)) == 10
    assert Message.objects.filter(ticket__subject="Export to CSV times out").count() == 2
    open_tickets = Ticket.objects.filter(status__in=["new", "assigned", "in_progress",
                                                     "waiting_on_third_party"])
    assert open_tickets.exists()
    assert set(Clock.objects.values_list("ticket_id", flat=True)) == set(
        open_tickets.values_list("pk", flat=True))

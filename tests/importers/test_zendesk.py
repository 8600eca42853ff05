"""Importing a Zendesk export (tests/importers/zendesk_export).

The fixture pages are written from Zendesk's published API reference, one file per page
as a sync tool saves them. Documented fields they cover:

- Incremental User Export (cursor): users[].id, name, email, role (end-user / agent /
  admin), organization_id, active, suspended, iana_time_zone, created_at, last_login_at;
  after_cursor, end_of_stream.
- Incremental Organization Export: organizations[].id, name, domain_names, details, notes.
- List Groups: groups[].id, name, description, deleted; List Group Memberships:
  group_memberships[].user_id, group_id.
- List Ticket Fields: ticket_fields[].id, title (custom field labels).
- Incremental Ticket Export (cursor) with include=metric_sets: tickets[].id, subject,
  raw_subject, description, status (new, open, pending, hold, solved, closed, deleted),
  priority (urgent, high, normal, low, null), type, requester_id, assignee_id,
  organization_id, group_id, collaborator_ids, tags, custom_fields[].id/value (text,
  checkbox, multiselect), via.channel (email, web, voice), created_at, updated_at,
  generated_timestamp (a ticket exported twice counts in its latest version);
  metric_sets[].ticket_id, solved_at, status_updated_at.
- List Comments: comments[].id, type, author_id, body, html_body, plain_body, public,
  created_at, via.channel, attachments[].id, file_name, content_url, content_type, size;
  next_page (a ticket's comments over two pages).
- Help Center: categories[].id, name, description, position; sections[].id, name,
  description, category_id, parent_section_id, position; articles[].id, title, body
  (HTML), section_id, author_id, draft, user_segment_id, label_names, vote_sum,
  vote_count, created_at, updated_at, edited_at.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.core import mail
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from helpdesk.models import Notification, Organization, User
from helpdesk.roles import Role
from importers.models import ImportedRecord, ImportProblem, ImportRun
from knowledge.models import Article, ArticleStatus, Audience, Section
from sla.escalation import fire_due_levels
from sla.models import Clock, ClockState, Metric
from tickets.models import Attachment, EventKind, Message, Survey, Ticket, TicketEvent

from .conftest import NOW, run_import

pytestmark = pytest.mark.django_db
EXPORT = Path(__file__).parent / "zendesk_export"


def zd(key: int) -> Ticket:
    return Ticket.objects.get(pk=ImportedRecord.objects.get(kind="ticket", source_key=key)
                              .target_id)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def export(tmp_path):
    copy = tmp_path / "export"
    shutil.copytree(EXPORT, copy)
    return copy


@pytest.fixture
def imported(export, at_now, media, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return run_import("import_zendesk", export)


def test_tickets_statuses_and_fields_follow_the_export(imported):
    assert Ticket.objects.count() == 7  # 108 once (its latest version), 107 deleted
    expect = {101: "in_progress", 102: "resolved", 103: "waiting_on_customer",
              104: "closed", 105: "waiting_on_third_party", 106: "new", 108: "resolved"}
    assert {k: zd(k).status for k in expect} == expect
    assert [zd(k).priority for k in (101, 102, 104, 106)] == [2, 4, 1, 3]
    assert (zd(101).channel, zd(102).channel, zd(104).channel) == ("email", "web", "phone")
    t101 = zd(101)
    assert t101.created_at == at("2026-02-25T09:00:00Z")
    assert t101.updated_at == at("2026-02-27T10:00:00Z")
    assert t101.team.name == "Tier 1 Support" and t101.assignee.email == "sam@support.example"
    assert t101.organization.name == "Acme Corp"
    assert set(t101.tags.values_list("name", flat=True)) == {"vpn", "urgent-customer"}
    assert list(t101.ccs.values_list("email", flat=True)) == ["bob@acme.example"]
    note = t101.messages.get(author=None).body
    assert "**Product area**: vpn" in note and "**Needs engineering**: yes" in note
    assert "**Affected platforms**: linux, macos" in note and "**Type**: incident" in note
    assert zd(102).resolved_at == at("2026-02-28T16:00:00Z")
    assert zd(103).waiting_reason == "Pending in Zendesk"
    old = zd(104)
    assert (old.resolved_at, old.closed_at) == (at("2025-11-06T10:00:00Z"),
                                               at("2025-11-10T10:00:00Z"))
    assert list(old.events.filter(kind=EventKind.STATUS).values_list("after", "created_at")) \
        == [("resolved", old.resolved_at), ("closed", old.closed_at)]


def test_comments_word_for_word_with_attachments(imported):
    pages = json.loads((EXPORT / "comments" / "101.json").read_text())["comments"]
    t101 = zd(101)
    messages = [(m.body, m.is_public, m.by_agent, m.created_at)
                for m in t101.messages.exclude(author=None).order_by("created_at")]
    # The first comment is the description: not repeated as a message.
    assert messages == [(c["body"], c["public"], True, at(c["created_at"])) for c in pages[1:]]
    assert t101.first_response_at == at(pages[1]["created_at"])
    attachment = Attachment.objects.get(message__ticket=t101)
    with default_storage.open(attachment.file.name) as handle:
        content = handle.read()
    expected = (EXPORT / "attachments" / "9001" / "vpn-client.log").read_bytes()
    assert hashlib.sha256(content).digest() == hashlib.sha256(expected).digest()
    # Two pages of comments make one conversation.
    assert [m.body for m in zd(102).messages.exclude(author=None).order_by("created_at")] == [
        "Refunded $49.00 to your card."]
    problem = ImportProblem.objects.get()
    assert (problem.kind, problem.source_key, problem.reason) == (
        "attachment", "9002", "file missing on disk")
    assert "content_url" not in problem.detail and problem.detail.startswith("https://")


def test_people_organizations_and_groups(imported):
    alice = User.objects.get(email="alice@acme.example")
    assert alice.organization.name == "Acme Corp"
    assert list(alice.groups.values_list("name", flat=True)) == [Role.CUSTOMER]
    assert alice.time_zone == "America/New_York"
    assert Organization.objects.get(name="Acme Corp").domain == "acme.example"
    assert User.objects.get(email="carol@gmail.com").organization is None
    assert not User.objects.get(email="dan@globex.example").is_active
    assert User.objects.get(email="sam@support.example").is_agent
    assert list(User.objects.get(email="ada@support.example").groups
                .values_list("name", flat=True)) == [Role.ADMIN]
    assert User.objects.get(email="sam@support.example").teams.get().name == "Tier 1 Support"


def test_guide_articles_become_help_center_articles(imported):
    article = Article.objects.get(title="Change your e-mail address")
    assert article.status == ArticleStatus.PUBLISHED and article.audience == Audience.PUBLIC
    assert "## Steps" in article.body and "**Profile**" in article.body
    assert "* Edit" in article.body and "[help](https://example.com/help)" in article.body
    assert article.updated_at == at("2025-05-30T10:00:00Z")
    assert (article.helpful_count, article.unhelpful_count) == (5, 1)
    assert article.owner.email == "ada@support.example" and article.tags == "profile, email"
    assert Article.objects.get(title="Okta set-up (draft)").status == ArticleStatus.DRAFT
    assert Article.objects.get(title="Enterprise SSO checklist").audience == Audience.CUSTOMERS
    sso = Section.objects.get(name="SSO")
    assert sso.parent.name == "Accounts" and sso.parent.parent.name == "General"


def test_open_tickets_get_clocks_and_nothing_fires_for_the_past(
        imported, django_capture_on_commit_callbacks):
    assert not Clock.objects.filter(ticket__in=[zd(102), zd(104), zd(108)]).exists()
    first = Clock.objects.get(ticket=zd(101), metric=Metric.FIRST_RESPONSE)
    assert first.started_at == zd(101).created_at
    assert first.completed_at == zd(101).first_response_at
    # Waiting on the customer since 15:00 on the 27th: paused then, not now.
    paused = Clock.objects.get(ticket=zd(103), metric=Metric.RESOLUTION)
    assert paused.state == ClockState.PAUSED and paused.paused_at == at("2026-02-27T15:00:00Z")
    with django_capture_on_commit_callbacks(execute=True):
        fire_due_levels()
    assert Notification.objects.count() == 0 and mail.outbox == [] and not Survey.objects.exists()
    with time_machine.travel(NOW + timedelta(days=60), tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        fire_due_levels()
    assert Notification.objects.exists()  # what lies after the import still fires


def test_second_run_changes_nothing_then_adds_only_what_changed(
        export, at_now, media, django_capture_on_commit_callbacks):
    run_import("import_zendesk", export)
    counts = (Ticket.objects.count(), Message.objects.count(), TicketEvent.objects.count(),
              User.objects.count(), Article.objects.count())
    output = run_import("import_zendesk", export)
    assert (Ticket.objects.count(), Message.objects.count(), TicketEvent.objects.count(),
            User.objects.count(), Article.objects.count()) == counts
    assert "unchanged 6 · retried 1" in output  # 104 retries its missing attachment

    # The sync tool saves a new page: 103 answered by the customer and reopened, and the
    # missing post-mortem arrives.
    page = export / "tickets" / "tickets-page-3.json"
    ticket = json.loads((export / "tickets" / "tickets-page-1.json").read_text())["tickets"][2]
    ticket.update(status="open", updated_at="2026-03-02T09:00:00Z", generated_timestamp=1772400000)
    page.write_text(json.dumps({"tickets": [ticket], "end_of_stream": True}))
    (export / "tickets" / "103" / "comments-2.json").write_text(json.dumps({"comments": [{
        "id": 5203, "type": "Comment", "author_id": 1001, "body": "HAR attached.",
        "public": True, "created_at": "2026-03-02T09:00:00Z", "attachments": []}]}))
    (export / "attachments" / "9002").mkdir()
    (export / "attachments" / "9002" / "postmortem.pdf").write_bytes(b"%PDF-1.4 post-mortem")
    with django_capture_on_commit_callbacks(execute=True):
        run_import("import_zendesk", export)
    t103 = zd(103)
    assert Message.objects.count() == counts[1] + 1
    assert t103.messages.latest("created_at").body == "HAR attached."
    assert t103.status == "in_progress"
    change = t103.events.get(kind=EventKind.STATUS)
    assert (change.before, change.after, change.created_at) == (
        "waiting_on_customer", "in_progress", at("2026-03-02T09:00:00Z"))
    resolution = Clock.objects.get(ticket=t103, metric=Metric.RESOLUTION)
    assert resolution.state == ClockState.RUNNING  # resumed at 09:00 by the SLA services
    assert Attachment.objects.filter(filename="postmortem.pdf").count() == 1
    assert not ImportRun.objects.order_by("-pk").first().problems.exists()


def test_unreadable_export_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="No folder"):
        call_command("import_zendesk", "--from", str(tmp_path / "missing"))
    (tmp_path / "page.json").write_text('{"something": []}')
    with pytest.raises(CommandError, match="no Zendesk export pages"):
        call_command("import_zendesk", "--from", str(tmp_path))

"""Source-neutral records: what every importer reads, in this product's terms.

A source adapter (sources/) turns its rows into these; the loader writes them. People are
referred to by a `PersonRef`: the source user's id, or an e-mail address for someone who
only ever wrote in (django-helpdesk's submitter_email, a CC address).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

PersonRef = int | str | None


def digest(*values: object) -> int:
    """A signed 64-bit hash of a row's content, to tell a changed row from an unchanged one."""
    text = "\x1f".join("" if v is None else str(v) for v in values)
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"),
                                          digest_size=8).digest(), "big", signed=True)


@dataclass
class OrgRecord:
    key: int
    name: str
    domains: list[str] = field(default_factory=list)
    notes: str = ""
    created_at: datetime | None = None

    @property
    def digest(self) -> int:
        return digest(self.name, ",".join(self.domains), self.notes)


@dataclass
class PersonRecord:
    key: int
    email: str
    first_name: str = ""
    last_name: str = ""
    username: str = ""
    is_staff: bool = False
    is_superuser: bool = False
    is_active: bool = True
    # A Django password hash kept as is (people sign in with their old password), or "".
    password: str = ""
    joined_at: datetime | None = None
    last_login: datetime | None = None
    org_key: int | None = None
    time_zone: str = ""

    @property
    def digest(self) -> int:
        return digest(self.email.lower(), self.first_name, self.last_name, self.is_staff,
                      self.is_superuser, self.is_active, self.org_key, self.password)


@dataclass
class TeamRecord:
    key: int
    name: str
    slug: str
    description: str = ""


@dataclass
class AttachmentRecord:
    key: int
    filename: str
    content_type: str = ""
    size: int | None = None
    # The file on disk, if the source has it; `origin` says where it came from (a path or
    # URL) for the report when it is missing.
    path: Path | None = None
    origin: str = ""


@dataclass
class EntryRecord:
    """One message of the conversation (a django-helpdesk follow-up, a Zendesk comment)."""

    key: int
    author: PersonRef
    public: bool
    body: str
    at: datetime
    channel: str = ""
    attachments: list[AttachmentRecord] = field(default_factory=list)
    time_spent: timedelta | None = None
    # The first message repeats the ticket's description: not a second copy of it.
    opening: bool = False

    @property
    def digest(self) -> int:
        return digest(self.author, self.public, self.body, self.at.isoformat(),
                      len(self.attachments))


@dataclass
class ChangeRecord:
    """One audit-trail line: a status or field change, at its original time.

    `entry_key` ties it to the entry it came with, so a re-run adds it only with that
    entry; changes without one are written only when their ticket is first imported.
    """

    at: datetime
    actor: PersonRef
    kind: str  # tickets.models.EventKind value
    field: str = ""
    before: str = ""
    after: str = ""
    note: str = ""
    public: bool = False
    entry_key: int | None = None


@dataclass
class TicketRecord:
    key: int
    subject: str
    description: str
    requester: PersonRef
    status: str  # tickets.state_machine.Status value
    priority: int
    created_at: datetime
    updated_at: datetime
    status_changed_at: datetime
    team_key: int | None = None
    assignee: PersonRef = None
    org_key: int | None = None
    channel: str = "web"
    waiting_reason: str = ""
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    reopen_count: int = 0
    merged_into_key: int | None = None
    ccs: list[PersonRef] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    # Fields this product has no column for (custom fields, a due date...), as
    # (label, value): kept as text in one internal note.
    extra_fields: list[tuple[str, str]] = field(default_factory=list)
    entries: list[EntryRecord] = field(default_factory=list)
    changes: list[ChangeRecord] = field(default_factory=list)
    # The source's hash of the ticket row (see `digest`); 0: computed from the fields.
    source_digest: int = 0
    # Source-specific values the source keeps between its two reading steps.
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def digest(self) -> int:
        return self.source_digest or digest(
            self.subject, self.description, self.requester, self.status, self.priority,
            self.updated_at.isoformat(), self.team_key, self.assignee, self.org_key,
            self.merged_into_key, ",".join(map(str, self.ccs)), ",".join(self.tags),
            repr(self.extra_fields), len(self.entries))


@dataclass
class SectionRecord:
    key: int
    name: str
    description: str = ""
    parent_key: int | None = None
    position: int = 100


@dataclass
class ArticleRecord:
    key: int
    title: str
    body: str  # Markdown
    section_key: int | None
    published: bool
    audience: str  # knowledge.models.Audience value
    created_at: datetime
    updated_at: datetime
    author: PersonRef = None
    summary: str = ""
    tags: list[str] = field(default_factory=list)
    helpful: int = 0
    unhelpful: int = 0

    @property
    def digest(self) -> int:
        return digest(self.title, self.body, self.section_key, self.published, self.audience,
                      self.updated_at.isoformat(), ",".join(self.tags), self.helpful,
                      self.unhelpful)


@dataclass
class Problem:
    """A row that could not be imported: reported, and the import goes on."""

    kind: str
    source_id: str
    reason: str
    detail: str = ""
    ticket_key: int | None = None

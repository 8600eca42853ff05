"""Readers of other helpdesks' data, each turning its rows into `importers.records`."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

from ..records import (
    ArticleRecord,
    OrgRecord,
    PersonRecord,
    Problem,
    SectionRecord,
    TeamRecord,
    TicketRecord,
)


class SourceError(Exception):
    """The source cannot be read at all (not found, not the kind of data it should be)."""


class SourceReader(Protocol):
    """What the loader asks of a source. Tickets come in two steps: `ticket_chunks` yields
    the ticket rows alone (with their digest), and `load_details` fills in the conversation,
    audit trail, CCs and extra fields of those the loader needs (new, changed, retried)."""

    kind: str
    default_name: str
    location: str
    # True when the source carries its own audit trail (django-helpdesk's ticket changes);
    # otherwise a re-run records the differences it finds as changes.
    provides_history: bool

    def organizations(self) -> Iterable[OrgRecord]: ...
    def people(self) -> Iterable[PersonRecord]: ...
    def contacts(self) -> Iterable[str]: ...
    def teams(self) -> Iterable[TeamRecord]: ...
    def memberships(self) -> Iterable[tuple[int, int]]: ...
    def sections(self) -> Iterable[SectionRecord]: ...
    def articles(self) -> Iterable[ArticleRecord]: ...
    def ticket_count(self) -> int: ...
    def ticket_chunks(self, size: int) -> Iterator[list[TicketRecord]]: ...
    def load_details(self, tickets: list[TicketRecord]) -> list[Problem]: ...
    def merges(self) -> Iterable[tuple[int, int]]: ...
    def skipped(self) -> dict[str, int]: ...
    def close(self) -> None: ...

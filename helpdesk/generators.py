"""Development data that each app contributes, without the seeding code knowing the apps.

`manage.py seed_data` and `manage.py demo` (the `devdata` app, on top of every layer)
generate people and tickets, then hand every registered generator the history of what
they wrote, so that each app writes its own rows consistent with it: SLA clocks from the
tickets' waits and replies, surveys after resolution, shifts for every agent...

An app contributes a module `<app>/devdata.py`, imported by the devdata app at start-up
(the way Django finds `admin.py` modules), which registers its generator:

    generators.register(Generator("sla", order=20, tickets=clocks_for_chunk, demo=seed_demo))

The hooks, all optional, run in `order`:

- `prepare(run)`: before any ticket, for reference rows (articles, shifts, scorecards);
- `tickets(run, batch)`: for every chunk of generated tickets (`batch.tickets`, a list of
  `TicketHistory`); rows go through `batch.add()` and are written after the tickets they
  refer to, in the chunk's transaction; except in a big PostgreSQL load with the
  foreign-key checks off, where the tickets come from a second process and commit on
  their own: a hook works from `batch.tickets`, never by reading the chunk's tickets back;
- `finish(run)`: after every ticket is written (weekly samples, rollups);
- `demo(stdout)`: the demo's scenario rows, after the demo accounts exist.

Generators are deterministic: `run.rng(name)` is a random stream of its own for each
generator and seed, so one app's draws never shift another's.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO

from django.db import models

Log = Callable[[str], None]


@dataclass(slots=True)
class TicketHistory:
    """What happened to one generated ticket; times are POSIX seconds (UTC)."""

    id: int
    created: float
    requester_id: int
    organization_id: int
    tier: str
    priority: int
    category: str  # category slug
    channel: str
    team_id: int  # the last team it was routed or escalated to
    teams: tuple[int, ...]  # every team, in order (first the intake team)
    assignee_id: int | None
    status: str  # current status
    first_response: float | None
    resolved: float | None  # last resolution
    first_resolved: float | None  # the first one, when it was reopened since
    closed: float | None
    reopened: bool
    # (start, end or None while still waiting, status value) of every waiting period
    waits: tuple[tuple[float, float | None, str], ...] = ()
    # (at, from team id, to team id or None for engineering)
    escalations: tuple[tuple[float, int, int | None], ...] = ()
    # (message id, at, author id, "customer" | "agent" | "note")
    messages: tuple[tuple[int, float, int, str], ...] = ()
    agents: tuple[int, ...] = ()  # agents who worked on it, first the intake agent
    subject: str = ""
    requester_email: str = ""

    @property
    def is_open(self) -> bool:
        return self.resolved is None


@dataclass
class Batch:
    """The rows generated for one chunk of tickets, written in the chunk's transaction."""

    tickets: list[TicketHistory]
    rows: dict[tuple[type[models.Model], tuple[str, ...]], list[tuple]] = field(
        default_factory=dict)

    def add(self, model: type[models.Model], columns: tuple[str, ...],
            rows: Sequence[tuple]) -> None:
        self.rows.setdefault((model, columns), []).extend(rows)


class Run(Protocol):
    """What a generator may use: the devdata app provides it."""

    seed: int
    now: float  # the end of the generated period (POSIX seconds)
    start: float  # its beginning
    tickets: int  # tickets asked for
    log: Log
    # agents per team id: (user id, time zone), the team lead first; other staff apart
    team_agents: dict[int, list[tuple[int, str]]]
    team_slugs: dict[int, str]
    # "agent", "lead", "manager", "QA reviewer", "csm" -> user ids
    staff: dict[str, list[int]]
    # relative ticket arrivals per UTC hour of the week, Monday 00:00 first (168 values)
    demand: tuple[float, ...]
    using: str
    state: dict[str, Any]  # each generator's own state between its hooks, by its name

    def rng(self, name: str) -> random.Random:
        """The generator's own random stream (the same object for a name during a run)."""
        ...

    def next_ids(self, model: type[models.Model], count: int) -> int:
        """First of `count` ids nobody else is given (sequences are reset at the end)."""
        ...

    def write(self, model: type[models.Model], columns: tuple[str, ...],
              rows: Sequence[tuple]) -> int:
        """Write rows now (prepare and finish hooks); returns how many."""
        ...

    def count(self, table: str, n: int) -> None:
        """Add `n` to the reported row count of `table`."""
        ...


@dataclass(frozen=True)
class Generator:
    name: str
    order: int = 100
    prepare: Callable[[Run], None] | None = None
    tickets: Callable[[Run, Batch], None] | None = None
    finish: Callable[[Run], None] | None = None
    demo: Callable[[TextIO], None] | None = None


_registry: dict[str, Generator] = {}


def register(generator: Generator) -> None:
    _registry[generator.name] = generator


def unregister(name: str) -> None:
    _registry.pop(name, None)


def registered() -> list[Generator]:
    """Every generator, in order."""
    return sorted(_registry.values(), key=lambda g: (g.order, g.name))

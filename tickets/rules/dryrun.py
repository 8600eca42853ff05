"""A rule's dry run: "would match N of the open tickets now", with examples.

It must stay fast on a million tickets, so it reads a capped sample (the most recently
updated open tickets, by the `ticket_updated` index), tests the conditions in Python as
the engine does, and scales the share that matched to the open tickets counted up to a
cap.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch
from django.utils import timezone

from ..models import OPEN_STATUS_VALUES, Automation, Tag, Ticket, Trigger
from . import engine
from .registry import Context
from .runner import column_of, cutoff_of

SAMPLE = 1000
COUNT_CAP = 100_000
EXAMPLES = 10


@dataclass(frozen=True)
class DryRun:
    matched: int  # in the sample
    sampled: int
    open_total: int  # counted up to COUNT_CAP
    capped: bool
    examples: list[Ticket]

    @property
    def estimate(self) -> int:
        """The matches among all open tickets, scaled from the sample."""
        if self.sampled == 0:
            return 0
        if self.sampled >= self.open_total:
            return self.matched
        return round(self.matched * self.open_total / self.sampled)

    @property
    def summary(self) -> str:
        if self.sampled >= self.open_total:
            return f"Would match {self.matched} of the {self.open_total} open tickets now."
        total = f"{self.open_total:,}+" if self.capped else f"{self.open_total:,}"
        return (f"Would match about {self.estimate:,} of the {total} open tickets now "
                f"({self.matched} of the {self.sampled:,} most recently updated).")


def dry_run(rule: Trigger | Automation, *, sample: int = SAMPLE) -> DryRun:
    """Test the rule's conditions (and an automation's time condition) on open tickets."""
    now = timezone.now()
    qs = Ticket.objects.filter(status__in=OPEN_STATUS_VALUES)
    if isinstance(rule, Automation) and rule.since:
        column, scope = column_of(rule)
        qs = qs.filter(scope, **{f"{column}__lte": cutoff_of(rule, now)})
    open_total = qs[:COUNT_CAP].count()
    rows = list(qs.select_related("organization", "requester", "assignee")
                .prefetch_related(Prefetch("tags", queryset=Tag.objects.only("name")))
                .order_by("-updated_at")[:sample])
    matched = []
    for ticket in rows:
        context = Context(now=now, events=frozenset(),
                          tags=frozenset(t.name for t in ticket.tags.all()))
        if engine.matches(rule, ticket, context):
            matched.append(ticket)
    return DryRun(matched=len(matched), sampled=len(rows), open_total=open_total,
                  capped=open_total >= COUNT_CAP, examples=matched[:EXAMPLES])

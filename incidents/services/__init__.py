"""Every write of the incidents app: declaring, the war room, links, public updates with
exactly-once fan-out, resolution cascade, reminders and escalations, reviews.

Rules decided here:

- The declarer becomes incident commander until someone else is assigned.
- Cadence: the next public update is due `update_every_minutes` after the last public
  update (or the declaration). An overdue update reminds the communications lead once
  per due time (unique Fire "update:<due>"), then the next reminder is one cadence later.
- Escalation steps are measured from the declaration and fire once each (unique Fire
  "escalation:<step>"); a step whose time has passed when the severity is raised fires
  at once.
- Public updates are delivered as an agent reply on every linked ticket, once: the
  replies and their UpdateDelivery rows are written set-wise (`tickets.batch`), in one
  transaction per chunk, and tickets already delivered are skipped (checked again under
  the tickets' row locks), so a retry resumes. Should the chunk still meet a delivery
  row it did not see, it is redone ticket by ticket (savepoint per ticket). A ticket
  that cannot take a reply (closed) gets a delivery row with the reason, never a failure.
- Resolution moves every linked ticket to the chosen status through the ticket state
  machine (set-wise, `tickets.batch.move_many`); a ticket that cannot move is recorded
  (`cascade_note`) and skipped.
- A chunk's ticket events (the reply's e-mail, SLA clocks, the survey) are handled after
  its commit, for seconds; a worker killed then would lose them, since the retry skips
  what was delivered. So each row is marked once its handlers ran, and a retry first
  replays the events of unmarked rows (every ticket-event handler is idempotent).
- Everything stops when the incident resolves: all "next due" columns are cleared.

One module per section: declaring (and the war room), roles, links, updates (and the
resolution), delivery (the fan-out job), cascading (the resolution job), reminders,
reviews. Permissions live in incidents.permissions. Import from here:
`from incidents import services`.
"""
from __future__ import annotations

from ._base import (
    CHUNK,
    MANUAL_KINDS,
    MAX_ROLE_RECIPIENTS,
    RESOLVE_TARGETS,
    REVIEW_REMINDER_EVERY,
    FanOutStats,
)
from .cascading import cascade, cascade_chunk
from .declaring import add_entry, change_severity, change_status, declare
from .delivery import deliver_chunk, fan_out
from .links import accept_suggestion, dismiss_suggestion, link_tickets, suggest_links, unlink_ticket
from .reminders import fire_due_escalations, fire_update_reminder, run_due
from .reviews import (
    REVIEW_FIELDS,
    add_action,
    fire_review_reminder,
    review_draft,
    save_review,
    set_action_state,
    start_review,
)
from .roles import assign_role, remove_role
from .updates import publish_update, resolve

__all__ = [
    "CHUNK", "FanOutStats", "MANUAL_KINDS", "MAX_ROLE_RECIPIENTS", "RESOLVE_TARGETS",
    "REVIEW_FIELDS", "REVIEW_REMINDER_EVERY", "accept_suggestion", "add_action",
    "add_entry", "assign_role",
    "cascade", "cascade_chunk", "change_severity", "change_status", "declare",
    "deliver_chunk", "dismiss_suggestion", "fan_out", "fire_due_escalations",
    "fire_review_reminder", "fire_update_reminder", "link_tickets", "publish_update",
    "remove_role", "resolve", "review_draft", "run_due", "save_review",
    "set_action_state", "start_review", "suggest_links", "unlink_ticket",
]

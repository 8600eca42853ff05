"""Every write to SLA clocks: locked, inside a transaction, audited with ClockEvent rows.

Handlers (sla.handlers), the escalation job, admin actions and views call these; none
of them touches Clock rows directly. Each function

- takes the instant of what happened (`at`, from the domain event), never "now", so the
  numbers are exact however late the handler runs;
- locks the ticket's clock rows (SELECT ... FOR UPDATE) so concurrent events serialise;
- checks state before acting, so running it twice (a retried task, a duplicated event)
  changes nothing;
- keeps the ticket's denormalised `sla_due_at` / `sla_level` in step (`sync_ticket`).

Rules of thumb a support lead can check against the audit trail:

- A clock is breached once the business time it used reaches its contractual target,
  running or paused. A running clock breaches at its due time (`breached_at = due_at`),
  even if the escalation job had not run yet; completing at that very instant is still
  met. A clock whose target a re-evaluation (priority, tier, tags, team) shortens below
  the time it has used breaches at the instant its recomputed history crossed the new
  target, paused or not, and the escalation job fires the levels it passed, once.
- A breach, once recorded, stands: each target a clock had is checked when it is
  replaced, so a longer target later cannot erase it. Completion decides met or breached
  from that record and the time used, never from whether the clock has a due time.
- The internal target works the same way and sets `internal_breached_at`.
- Clocks stopped because the ticket was resolved or closed (e.g. a first response that
  was never needed) become exempt with the reason "stopped: ...", unless they had
  already breached; they count neither as met nor as breached.
- Completion events carry `business_used`, `target`, `internal_target` and
  `internal_met` (no internal target it had was reached) in their data.
- A paused clock has no due time (`due_at` is None) until it resumes.
- A clock started in the past (a metric a re-evaluation brings) replays the ticket's
  waits since its start, as pauses.
"""
from __future__ import annotations

from .batched import AgentReply, StatusMove, on_status_changes, record_agent_replies
from .bulk import PassedLevels, start_clocks_in_bulk
from .lifecycle import (
    exempt,
    mark_breached,
    on_status_change,
    plan_clocks,
    record_agent_reply,
    record_customer_reply,
    record_merge,
    record_reopen,
    refresh_next_level,
    start_clocks,
    start_planned,
)
from .reevaluation import reevaluate, reevaluate_organization
from .work import NOT_APPLICABLE, START_METRICS, sync_ticket, sync_tickets

__all__ = [
    "start_clocks", "record_agent_reply", "record_customer_reply", "on_status_change",
    "record_reopen", "record_merge", "exempt", "reevaluate", "reevaluate_organization",
    "mark_breached", "refresh_next_level", "sync_ticket", "sync_tickets", "NOT_APPLICABLE",
    "START_METRICS", "start_clocks_in_bulk", "PassedLevels", "AgentReply", "StatusMove",
    "record_agent_replies", "on_status_changes", "plan_clocks", "start_planned",
]

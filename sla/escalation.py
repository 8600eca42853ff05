"""Breach prevention: fire the warning and breach levels of clocks whose next level is due.

The scan reads only the indexed `Clock.next_level_at` column (partial index
`clock_next_level`), so its cost grows with the clocks crossing a level, never with
the number of open tickets. Each level fires exactly once per clock: its
`ClockLevelFire` row is inserted first (`ON CONFLICT DO NOTHING`) and only the worker
whose insert went in writes the event, notifies and escalates. Notifications carry a
dedupe key as a second guard, so a retried task, a second worker or a duplicated beat
never sends twice. After downtime every missed level fires once, in percent order, at
its own scheduled instant.

Due clocks are handled in small locked batches with a fixed number of queries per
batch, not per clock (see `manage.py sla_bench` for the figures).
"""
from __future__ import annotations

import logging
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Max, QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from helpdesk import formats as display
from helpdesk.bulkload import update_rows
from helpdesk.models import Membership, Notification, Team, User
from helpdesk.notifications import notify_bulk
from helpdesk.roles import Role
from tickets.models import Ticket
from webhooks import sla_level_reached

from . import clocks as arith
from .calendar import BusinessCalendar
from .models import (
    Clock,
    ClockEvent,
    ClockEventKind,
    ClockLevelFire,
    ClockState,
    Level,
    LevelColour,
    Metric,
)

logger = logging.getLogger(__name__)

# Clocks locked per transaction: small, so two workers split the due clocks between them
# (SKIP LOCKED) and a lock is never held for long.
BATCH_SIZE = 50
BREACH_PERCENT = 100
NOTIFICATION_SOURCE = "sla.level"
# Only these clocks move towards their next level and have a due time; a paused clock
# fires only the levels its used time already passed (sla.clocks.next_level), finished
# ones never fire.
FIRING_STATES = (ClockState.RUNNING, ClockState.BREACHED)
# Labels by value: get_FOO_display() rebuilds its choices on every call.
METRIC_LABELS = dict(Metric.choices)
COLOUR_LABELS = dict(LevelColour.choices)


def fire_due_levels(*, now: datetime | None = None, limit: int = 500) -> int:
    """Fire every level whose instant has passed, for up to `limit` due clocks.

    Returns the number of due clocks handled (each may fire several levels when
    catching up), so a caller can tell a full batch (`== limit`: more may be due)
    from the end of the work.
    """
    now = now or timezone.now()
    context = _Context(now=now)
    handled = 0
    failed: set[int] = set()
    while handled < limit:
        size = min(BATCH_SIZE, limit - handled)
        with transaction.atomic():
            batch = list(due_clocks(now, size, exclude=failed))
            if batch:
                _process_safely(batch, context, failed)
        handled += len(batch)
        if len(batch) < size:
            break
    return handled


def due_clocks(now: datetime, size: int, *, exclude: set[int] | frozenset[int] = frozenset(),
               using: str = DEFAULT_DB_ALIAS) -> QuerySet[Clock]:
    """Clocks whose next level is due, oldest first, read through the partial index.

    On databases that can, the rows are locked and already-locked rows skipped, so
    concurrent workers each take a different slice. Call inside a transaction.
    """
    qs = (Clock.objects.using(using)
          .filter(next_level_at__isnull=False, next_level_at__lte=now)
          .select_related("ticket", "ticket__team", "ticket__assignee", "calendar")
          .defer("ticket__description")  # possibly long, never needed here
          .order_by("next_level_at"))
    if exclude:
        qs = qs.exclude(pk__in=exclude)
    features = connections[using].features
    if features.has_select_for_update_skip_locked:
        of = ("self",) if features.has_select_for_update_of else ()
        qs = qs.select_for_update(skip_locked=True, of=of)
    return qs[:size]


def _process_safely(batch: list[Clock], context: _Context, failed: set[int]) -> None:
    """The batch in one savepoint; if it fails, clock by clock, so one bad clock (it
    stays due for the next scan) does not hold back the others."""
    try:
        with transaction.atomic():
            _process(batch, context)
        return
    except Exception:
        if len(batch) == 1:
            logger.exception("SLA escalation failed for clock %s", batch[0].pk)
            failed.add(batch[0].pk)
            return
        logger.warning("SLA escalation batch failed; retrying clock by clock", exc_info=True)
    # The failed attempt changed the objects in memory: start again from the rows
    # (still locked by this transaction).
    fresh = {c.pk: c for c in Clock.objects.filter(pk__in=[c.pk for c in batch])
             .select_related("ticket", "ticket__team", "ticket__assignee", "calendar")}
    for pk in [c.pk for c in batch]:
        try:
            with transaction.atomic():
                _process([fresh[pk]], context)
        except Exception:
            logger.exception("SLA escalation failed for clock %s", pk)
            failed.add(pk)


# --- a batch of locked clocks ---------------------------------------------------------------

@dataclass
class _Plan:
    clock: Clock
    level: Level
    scheduled: datetime


def _process(batch: list[Clock], context: _Context) -> None:
    from . import services

    firing = [c for c in batch if arith.fires_levels(c)]
    for clock in batch:
        if clock not in firing:
            # A stale next level on a finished clock: the clock services clear it so the
            # scan stops finding it.
            services.refresh_next_level(clock)
    if not firing:
        return
    fired = _fired_percents(firing)
    # The levels due now, per clock in percent order, each at its own instant: the
    # clock services' arithmetic (sla.clocks.next_level), as in refresh_next_level.
    plans: list[_Plan] = []
    for clock in firing:
        levels = context.levels(clock.policy_id)
        done = fired[clock.pk]
        cal = context.calendar(clock)
        nxt = arith.next_level(clock, levels.values(), done, cal=cal)
        while nxt is not None and nxt[1] <= context.now:
            percent, at = nxt
            plans.append(_Plan(clock, levels[percent], at))
            done.add(percent)
            nxt = arith.next_level(clock, levels.values(), done, cal=cal)
        clock.next_level_percent, clock.next_level_at = nxt if nxt else (None, None)
    claimed = _claim([(p.clock.pk, p.level.percent, p.scheduled) for p in plans])
    plans = [p for p in plans if (p.clock.pk, p.level.percent) in claimed]

    events: list[ClockEvent] = []
    notes: list[Notification] = []
    breached: list[Clock] = []
    for plan in plans:
        clock, level = plan.clock, plan.level
        events.append(ClockEvent(
            clock=clock, ticket_id=clock.ticket_id, kind=ClockEventKind.LEVEL,
            at=plan.scheduled, reason=f"{level.percent}% of the target elapsed",
            data={"percent": level.percent, "colour": level.colour}))
        if (level.percent >= BREACH_PERCENT and clock.breached_at is None
                and clock.state == ClockState.RUNNING):
            # The breach happened when the target ran out, not when the scan noticed.
            # (A paused clock that passed its target was breached by the clock services.)
            clock.state = ClockState.BREACHED
            clock.breached_at = (plan.scheduled if level.percent == BREACH_PERCENT
                                 else clock.due_at or plan.scheduled)
            breached.append(clock)
            events.append(ClockEvent(
                clock=clock, ticket_id=clock.ticket_id, kind=ClockEventKind.BREACHED,
                at=clock.breached_at, reason="target passed",
                data={"percent": level.percent, "detected_at": context.now.isoformat()}))
        notes.extend(_notifications(clock, level, context))
        _escalate(clock, level)
        sla_level_reached(clock, level, at=plan.scheduled)  # after commit, if anyone listens
    ClockEvent.objects.bulk_create(events)
    notify_bulk(notes)
    stamp = timezone.now()
    _update_rows(Clock, ["next_level_at", "next_level_percent", "updated_at"],
                 [(c.pk, c.next_level_at, c.next_level_percent, stamp) for c in firing])
    # Only the clocks this worker breached: never write back a stale state.
    _update_rows(Clock, ["state", "breached_at"],
                 [(c.pk, c.state, c.breached_at) for c in breached])
    if plans:
        _sync_tickets({p.clock.ticket_id for p in plans}, context)


def _fired_percents(clocks: list[Clock]) -> dict[int, set[int]]:
    fired: dict[int, set[int]] = {c.pk: set() for c in clocks}
    for clock_id, percent in ClockLevelFire.objects.filter(
            clock_id__in=list(fired)).values_list("clock_id", "percent"):
        fired[clock_id].add(percent)
    return fired


def _claim(rows: list[tuple[int, int, datetime]]) -> set[tuple[int, int]]:
    """Insert the unique (clock, percent) fire rows; return those this call inserted.

    `ON CONFLICT DO NOTHING ... RETURNING`: a row that exists (fired by another worker
    or an earlier run) is simply not returned, with no error and no savepoint; on
    PostgreSQL a concurrent insert of the same key waits for the other transaction and
    then inserts nothing.
    """
    if not rows:
        return set()
    conn = connections[ClockLevelFire.objects.db]
    qn, adapt = conn.ops.quote_name, conn.ops.adapt_datetimefield_value
    fired_at = adapt(timezone.now())
    values = ", ".join(["(%s, %s, %s, %s)"] * len(rows))
    params: list = []
    for clock_id, percent, scheduled in rows:
        params += [clock_id, percent, adapt(scheduled), fired_at]
    sql = (f"INSERT INTO {qn(ClockLevelFire._meta.db_table)} "  # noqa: S608 - our identifiers
           f"(clock_id, percent, scheduled_at, fired_at) VALUES {values} "
           "ON CONFLICT (clock_id, percent) DO NOTHING RETURNING clock_id, percent")
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        return {(clock_id, percent) for clock_id, percent in cursor.fetchall()}


def _escalate(clock: Clock, level: Level) -> None:
    """Reassign to a team and/or raise the priority, through the ticket services."""
    from tickets.services import update_ticket

    ticket = clock.ticket
    changes: dict[str, object] = {}
    team = level.reassign_to_team
    if team is not None and team.pk != ticket.team_id:
        changes["team"] = team
        if ticket.assignee_id and not Membership.objects.filter(
                team=team, user_id=ticket.assignee_id).exists():
            # The ticket goes to the new team's queue, not to someone outside it.
            changes["assignee"] = None
    if level.raise_priority and ticket.priority > 1:
        changes["priority"] = ticket.priority - 1
    if not changes:
        return
    try:
        with transaction.atomic():
            updated = update_ticket(ticket, actor=None, changes=changes)
    except Exception:
        # The level has fired and its people are told; a refused escalation (e.g. the
        # ticket changed meanwhile) is logged rather than undoing the warning.
        logger.exception("SLA escalation of ticket %s at %s%% failed", ticket.pk, level.percent)
        return
    ticket.priority, ticket.team, ticket.assignee = (updated.priority, updated.team,
                                                     updated.assignee)


def _sync_tickets(ticket_ids: set[int], context: _Context) -> None:
    """`sla.services.sync_ticket` for many tickets in three queries (same rule).

    Each ticket shows its earliest active due time and the colour of the highest level
    fired on that clock.
    """
    earliest: dict[int, tuple[int, datetime, int | None]] = {}
    for pk, ticket_id, due_at, policy_id in (
            Clock.objects.filter(ticket_id__in=ticket_ids, completed_at__isnull=True,
                                 state__in=FIRING_STATES, due_at__isnull=False)
            .order_by("ticket_id", "due_at", "pk")
            .values_list("pk", "ticket_id", "due_at", "policy_id")):
        earliest.setdefault(ticket_id, (pk, due_at, policy_id))
    highest = dict(ClockLevelFire.objects.filter(clock_id__in=[v[0] for v in earliest.values()])
                   .values("clock_id").annotate(top=Max("percent"))
                   .values_list("clock_id", "top"))
    rows = []
    for ticket_id in sorted(ticket_ids):
        due_at, colour = None, ""
        if ticket_id in earliest:
            clock_id, due_at, policy_id = earliest[ticket_id]
            top = highest.get(clock_id)
            if top is not None:
                passed = [p for p in context.levels(policy_id) if p <= top]
                colour = context.levels(policy_id)[max(passed)].colour if passed else ""
        rows.append((ticket_id, due_at, colour))
    _update_rows(Ticket, ["sla_due_at", "sla_level"], rows)


def _update_rows(model, fields: list[str], rows: list[tuple]) -> None:
    """Write `fields` of many rows (each tuple: pk, then the values) in one statement."""
    update_rows(model, [model._meta.get_field(f).attname for f in fields], rows,
                using=model.objects.db)


# --- notifications ---------------------------------------------------------------------------

def _notifications(clock: Clock, level: Level, context: _Context) -> list[Notification]:
    """The level's notifications, one per recipient (saved in bulk by the caller)."""
    ticket = clock.ticket
    url = reverse("agent:ticket", args=[ticket.pk])
    now = timezone.now()
    notes = []
    for user in context.recipients(ticket, level):
        # Written once and kept: in the recipient's language, whoever's scan fired it.
        with translation.override(user.language or settings.LANGUAGE_CODE):
            title, body = _title(clock, level, user, context.now), _body(clock, level)
        notes.append(Notification(
            recipient=user, title=title[:200], body=body,
            url=url[:500], source=NOTIFICATION_SOURCE, urgent=ticket.priority == 1,
            dedupe_key=f"sla:{clock.pk}:{level.percent}:{user.pk}", created_at=now,
            email_wanted=bool(user.email),
        ))
    return notes


def _title(clock: Clock, level: Level, user: User, now: datetime) -> str:
    metric = METRIC_LABELS.get(clock.metric, clock.metric)
    ref = f"#{clock.ticket_id}"
    if level.percent >= BREACH_PERCENT and clock.breached_at is not None:
        due = _local(clock.breached_at, user, now)  # a paused clock has no due time
    else:
        due = _local(clock.due_at, user, now) if clock.due_at else ""
    values = {"percent": level.percent, "ref": ref, "metric": metric, "due": due}
    if level.percent < BREACH_PERCENT:
        if not due:
            return _("SLA %(percent)s%%: %(ref)s %(metric)s (paused)") % values
        return _("SLA %(percent)s%%: %(ref)s %(metric)s due %(due)s") % values
    if level.percent == BREACH_PERCENT:
        return (_("SLA breached: %(ref)s %(metric)s was due %(due)s") % values).rstrip()
    return (_("SLA %(percent)s%% severe breach: %(ref)s %(metric)s was due %(due)s")
            % values).rstrip()


def _body(clock: Clock, level: Level) -> str:
    ticket = clock.ticket
    owner = ticket.assignee.display_name if ticket.assignee else _("unassigned")
    team = ticket.team.name if ticket.team else _("no team")
    colour = COLOUR_LABELS.get(level.colour, level.colour)
    metric = METRIC_LABELS.get(clock.metric, clock.metric)
    return (f"{ticket.subject}\nP{ticket.priority} · {team} · {owner}\n"
            + _("%(colour)s: %(percent)s%% of the “%(metric)s” target has elapsed.")
            % {"colour": colour, "percent": level.percent, "metric": metric})


def _local(at: datetime, user: User, now: datetime) -> str:
    """HH:MM in the recipient's time zone, with the date when it is not today."""
    try:
        zone = zoneinfo.ZoneInfo(user.time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    local = at.astimezone(zone)
    if local.date() == now.astimezone(zone).date():
        return f"{local:%H:%M}"
    return display.date_format(local, "SHORT_DATETIME_FORMAT")  # the recipient's language


# --- per-call caches ------------------------------------------------------------------------

@dataclass
class _Context:
    """What one scan reads once: levels per policy, leads per team, the managers."""

    now: datetime
    _levels: dict[int | None, dict[int, Level]] = field(default_factory=dict)
    _leads: dict[int, list[User]] = field(default_factory=dict)
    _managers: list[User] | None = None
    _named: dict[int, list[User]] = field(default_factory=dict)

    _always: BusinessCalendar = field(default_factory=BusinessCalendar.always)

    def calendar(self, clock: Clock) -> BusinessCalendar:
        """The clock's calendar (sla.clocks.calendar_of), the 24/7 one built once."""
        return self._always if clock.calendar_id is None else arith.calendar_of(clock)

    def levels(self, policy_id: int | None) -> dict[int, Level]:
        """The policy's levels by percent (none without a policy)."""
        if policy_id is None:
            return {}
        if policy_id not in self._levels:
            self._levels[policy_id] = {
                lv.percent: lv for lv in Level.objects.filter(policy_id=policy_id)
                .select_related("reassign_to_team").prefetch_related("notify_users")
            }
        return self._levels[policy_id]

    def leads(self, team: Team | None) -> list[User]:
        if team is None:
            return []
        if team.pk not in self._leads:
            self._leads[team.pk] = [
                m.user for m in Membership.objects.filter(team=team, is_lead=True)
                .select_related("user").order_by("user_id")
            ]
        return self._leads[team.pk]

    def managers(self) -> list[User]:
        if self._managers is None:
            self._managers = list(User.objects.filter(groups__name=Role.MANAGER)
                                  .order_by("pk"))
        return self._managers

    def recipients(self, ticket: Ticket, level: Level) -> list[User]:
        """Everyone the level tells, each once, in a stable order; active users only."""
        people: list[User] = []
        if level.notify_assignee and ticket.assignee is not None:
            people.append(ticket.assignee)
        if level.notify_team_lead:
            people.extend(self.leads(ticket.team))
        if level.notify_managers:
            people.extend(self.managers())
        people.extend(self.named(level))
        return list({u.pk: u for u in people if u.is_active}.values())

    def named(self, level: Level) -> list[User]:
        """The level's `notify_users` (prefetched with the levels)."""
        if level.pk not in self._named:
            self._named[level.pk] = list(level.notify_users.all())
        return self._named[level.pk]

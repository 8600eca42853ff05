"""On-call services: who is on call, overrides and swaps, pages, escalation, iCalendar.

The public surface other apps (incidents) call:

- `on_call(rotation, *, at=None, role=PRIMARY)` → the User covering that role, or None.
- `current_turn(rotation, *, at=None)` / `next_turn(...)` / `upcoming_turns(...)`.
- `page(rotation, *, reason, priority, ticket=None, at=None, role=PRIMARY, dedupe_key=None)`
  → `PageOutcome` (the Page, or why nothing was sent).
- `page_user(rotation, user, *, role, reason, ...)` → `PageOutcome` (a named person).
- `escalation_targets(policy, *, started_at, now)` → who should have been paged by now.
- `escalate(page, *, now=None)` → the pages sent for escalation steps now due (once each).
- `acknowledge(page, *, user)`.

Rules decided here (documented for the incidents app):

- Overrides: during its window an override replaces the person of its role; when two
  overlap, the one created last wins. A swap is two mirrored overrides made together.
- After hours (weekends, and outside business_start–business_end local time on weekdays)
  a rotation with `after_hours_p1_only` pages only for P1. Other pages are *refused*: no
  Page row is recorded (so a refused page never counts toward the paged-twice rule) and
  the outcome carries the reason. Pages without a priority are treated as non-P1.
- Pages are idempotent by `dedupe_key`: the same key twice gives one Page and one
  notification. P1 pages notify as urgent.
- Escalation: steps are measured from the first page (`started_at`). A step whose person
  already has a page in the chain is not paged again (the default "primary after 5 min"
  step is therefore the reminder that the primary was paged, not a second page). The
  escalated pages carry `oncall-esc:<first page>:<step>:<user>` as dedupe key, so a
  retry or a second worker never pages twice. Acknowledging any page of a chain
  acknowledges the whole chain, which stops its escalation. Escalated pages are not
  checked against business hours again: the first page was accepted. The policy used
  for a page is the first (by name) of its rotation.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from helpdesk.models import User
from helpdesk.notifications import notify
from helpdesk.roles import Role
from tickets.models import Priority

from .. import oncall as rota
from ..models import (
    EscalationPolicy,
    EscalationStep,
    OnCallOverride,
    OnCallRole,
    Page,
    Rotation,
)
from ..page_text import reason_text
from ..selectors import handoffs

ESCALATION_PREFIX = "oncall-esc:"
DEFAULT_STEPS = ((5, EscalationStep.Target.PRIMARY), (15, EscalationStep.Target.SECONDARY),
                 (30, EscalationStep.Target.MANAGERS))
# Unacknowledged pages older than this are no longer escalated by the periodic job.
ESCALATION_HORIZON = timedelta(hours=24)


# --- turns ------------------------------------------------------------------------------

@dataclass
class Turn:
    """One weekly turn: the scheduled people (after the paged-twice rule) and, where an
    override applies at `at` (or at the start of the turn), who actually covers."""

    rotation: Rotation
    week: int
    starts_at: datetime
    ends_at: datetime
    scheduled_primary: User | None
    scheduled_secondary: User | None
    primary: User | None
    secondary: User | None
    skipped: list[User] = field(default_factory=list)

    @property
    def hours(self) -> float:
        return (self.ends_at - self.starts_at).total_seconds() / 3600


def _members(rotation: Rotation) -> list[User]:
    return [m.user for m in rotation.members.select_related("user").order_by("position")]


def _page_counts(rotation: Rotation, clock: rota.Handoffs,
                 weeks: Iterable[int]) -> dict[int, dict[int, int]]:
    """Pages per user id in each of `weeks` (one query, counted by the database per turn
    window: a busy rotation has thousands of pages in the weeks a plan looks back on)."""
    weeks = sorted(set(weeks))
    if not weeks:
        return {}
    start, end = clock.start(weeks[0]), clock.start(weeks[-1] + 1)
    per_week = {f"w{i}": Count("pk", filter=Q(created_at__gte=lo, created_at__lt=hi))
                for i, (lo, hi) in enumerate(clock.window(w) for w in weeks)}
    counts: dict[int, dict[int, int]] = defaultdict(dict)
    for row in (Page.objects.filter(rotation=rotation, created_at__gte=start, created_at__lt=end)
                .values("user_id").annotate(**per_week).order_by()):
        for i, week in enumerate(weeks):
            if row[f"w{i}"]:
                counts[week][row["user_id"]] = row[f"w{i}"]
    return counts


def _overrides(rotation: Rotation, start: datetime, end: datetime) -> list[OnCallOverride]:
    """Overrides touching [start, end), newest first (the newest wins an overlap)."""
    return list(OnCallOverride.objects.filter(rotation=rotation, starts_at__lt=end,
                                              ends_at__gt=start)
                .select_related("user").order_by("-pk"))


def _covering(overrides: list[OnCallOverride], role: str, at: datetime) -> User | None:
    for o in overrides:
        if o.role == role and o.starts_at <= at < o.ends_at:
            return o.user
    return None


def turns(rotation: Rotation, weeks: Iterable[int], *, at: datetime | None = None) -> list[Turn]:
    """The given turns; overrides are applied at `at` when it falls in a turn, else at its
    start. A few queries whatever the number of weeks."""
    weeks = list(weeks)
    if not weeks:
        return []
    clock = handoffs(rotation)
    members = _members(rotation)
    by_id = {u.pk: u for u in members}
    counts = _page_counts(rotation, clock, [w - 1 for w in weeks])
    plan = rota.plan([u.pk for u in members], weeks, counts, rotation.skip_after_pages)
    overrides = _overrides(rotation, clock.start(min(weeks)), clock.start(max(weeks) + 1))
    result = []
    for a in plan:
        start, end = clock.window(a.week)
        when = at if at is not None and start <= at < end else start
        primary, secondary = by_id.get(a.primary), by_id.get(a.secondary)
        result.append(Turn(
            rotation=rotation, week=a.week, starts_at=start, ends_at=end,
            scheduled_primary=primary, scheduled_secondary=secondary,
            primary=_covering(overrides, OnCallRole.PRIMARY, when) or primary,
            secondary=_covering(overrides, OnCallRole.SECONDARY, when) or secondary,
            skipped=[by_id[pk] for pk in a.skipped],
        ))
    return result


def current_turn(rotation: Rotation, *, at: datetime | None = None) -> Turn:
    at = at or timezone.now()
    return turns(rotation, [handoffs(rotation).week_at(at)], at=at)[0]


def next_turn(rotation: Rotation, *, at: datetime | None = None) -> Turn:
    at = at or timezone.now()
    return turns(rotation, [handoffs(rotation).week_at(at) + 1])[0]


def upcoming_turns(rotation: Rotation, *, weeks: int = 8,
                   at: datetime | None = None) -> list[Turn]:
    """The current turn and the following ones, `weeks` in all (from the first handoff on)."""
    at = at or timezone.now()
    first = max(handoffs(rotation).week_at(at), 0)
    return turns(rotation, range(first, first + weeks), at=at)


def on_call(rotation: Rotation, *, at: datetime | None = None,
            role: str = OnCallRole.PRIMARY) -> User | None:
    """Who covers `role` of the rotation at `at` (now), overrides applied; None if nobody."""
    turn = current_turn(rotation, at=at)
    return turn.primary if role == OnCallRole.PRIMARY else turn.secondary


# --- overrides and swaps ----------------------------------------------------------------

def can_manage(user: User) -> bool:
    return bool(user.is_authenticated and user.has_perm("workforce.change_rotation"))


def _check_manager(actor: User | None) -> None:
    if actor is not None and not can_manage(actor):
        raise PermissionDenied(_("Only team leads and managers can change the on-call plan."))


@transaction.atomic
def add_override(rotation: Rotation, *, role: str, user: User, starts_at: datetime,
                 ends_at: datetime, reason: str = "",
                 actor: User | None = None) -> OnCallOverride:
    """`user` covers `role` of the rotation from `starts_at` to `ends_at`."""
    _check_manager(actor)
    if role not in OnCallRole.values:
        raise ValidationError(_("Unknown on-call role %(role)s.") % {"role": repr(role)})
    if ends_at <= starts_at:
        raise ValidationError(_("An override must end after it starts."))
    if not user.is_active or not user.is_agent:
        raise ValidationError(
            _("%(user)s is not an active agent and cannot be on call.") % {"user": user})
    return OnCallOverride.objects.create(rotation=rotation, role=role, user=user,
                                         starts_at=starts_at, ends_at=ends_at,
                                         reason=reason[:200], created_by=actor)


@transaction.atomic
def swap_turns(rotation: Rotation, *, week_a: int, week_b: int,
               role: str = OnCallRole.PRIMARY, reason: str = "",
               actor: User | None = None) -> tuple[OnCallOverride, OnCallOverride]:
    """The people scheduled for `role` in two turns trade them: two mirrored overrides."""
    if week_a == week_b:
        raise ValidationError(_("Pick two different turns to swap."))
    by_week = {t.week: t for t in turns(rotation, [week_a, week_b])}
    ta, tb = by_week[week_a], by_week[week_b]
    attr = "primary" if role == OnCallRole.PRIMARY else "secondary"
    ua, ub = getattr(ta, attr), getattr(tb, attr)
    if ua is None or ub is None:
        raise ValidationError(_("Both turns need someone on call to swap."))
    if ua.pk == ub.pk:
        raise ValidationError(
            _("%(user)s is on call in both turns: nothing to swap.") % {"user": ua})
    reason = reason or f"Swap between {ua} and {ub}"
    first = add_override(rotation, role=role, user=ub, starts_at=ta.starts_at,
                         ends_at=ta.ends_at, reason=reason, actor=actor)
    second = add_override(rotation, role=role, user=ua, starts_at=tb.starts_at,
                          ends_at=tb.ends_at, reason=reason, actor=actor)
    first.swap_with, second.swap_with = second, first
    first.save(update_fields=["swap_with"])
    second.save(update_fields=["swap_with"])
    return first, second


@transaction.atomic
def remove_override(override: OnCallOverride, *, actor: User | None = None) -> None:
    """Delete an override, and the other half of its swap."""
    _check_manager(actor)
    ids = [override.pk] + ([override.swap_with_id] if override.swap_with_id else [])
    OnCallOverride.objects.filter(pk__in=ids).delete()


# --- pages ------------------------------------------------------------------------------

@dataclass(frozen=True)
class PageOutcome:
    """What `page` did: `page` is None when it was refused (`refused` says why)."""

    page: Page | None
    created: bool = False
    refused: str = ""

    @property
    def sent(self) -> bool:
        return self.page is not None and self.created


def is_after_hours(rotation: Rotation, at: datetime) -> bool:
    local = at.astimezone(handoffs(rotation).zone)
    return rota.is_after_hours(local, rotation.business_start, rotation.business_end)


def page(rotation: Rotation, *, reason: str, priority: int | None, ticket=None,
         at: datetime | None = None, role: str = OnCallRole.PRIMARY,
         dedupe_key: str | None = None) -> PageOutcome:
    """Page whoever covers `role` now: record a Page and notify them (urgent for P1).

    Refused (nothing recorded or sent) after hours for non-P1 when the rotation says so,
    or when nobody is on call. Idempotent by `dedupe_key`.
    """
    at = at or timezone.now()
    if dedupe_key and (existing := Page.objects.filter(dedupe_key=dedupe_key).first()):
        return PageOutcome(existing, created=False)
    after_hours = is_after_hours(rotation, at)
    if after_hours and rotation.after_hours_p1_only and priority != Priority.P1:
        return PageOutcome(None, refused=(
            f"Outside business hours ({rotation.business_start:%H:%M}–"
            f"{rotation.business_end:%H:%M} {rotation.timezone}, weekdays) {rotation} "
            f"pages only for P1; this is P{priority or '?'}."))
    user = on_call(rotation, at=at, role=role)
    if user is None:
        return PageOutcome(None, refused=f"Nobody is on call as {role} of {rotation}.")
    return page_user(rotation, user, role=role, reason=reason, priority=priority,
                     ticket=ticket, at=at, dedupe_key=dedupe_key, after_hours=after_hours)


def page_user(rotation: Rotation, user: User, *, role: str, reason: str,
              priority: int | None, ticket=None, at: datetime | None = None,
              dedupe_key: str | None = None, after_hours: bool | None = None) -> PageOutcome:
    """Page one named person for the rotation (no business-hours check); idempotent by key.

    `role` is the on-call role, or the escalation target ("managers", "user") for people
    paged by an escalation step.
    """
    at = at or timezone.now()
    if after_hours is None:
        after_hours = is_after_hours(rotation, at)
    try:
        with transaction.atomic():
            row = Page.objects.create(
                rotation=rotation, user=user, role=role, ticket=ticket, reason=reason[:255],
                priority=priority, after_hours=after_hours, created_at=at,
                dedupe_key=dedupe_key,
            )
    except IntegrityError:
        existing = Page.objects.filter(dedupe_key=dedupe_key).first() if dedupe_key else None
        if existing is None:
            raise
        return PageOutcome(existing, created=False)
    urgent = priority == Priority.P1
    # Written once and kept: in the paged person's language (the Page keeps the reason as
    # the system wrote it; `reason_text` translates its fixed sentences, as the log does).
    with translation.override(user.language or settings.LANGUAGE_CODE):
        title = _("Paged: %(reason)s") % {"reason": reason_text(reason)}
        body = _("You are paged as %(role)s of %(rotation)s. Please acknowledge.") % {
            "role": OnCallRole(role).label if role in OnCallRole.values else role,
            "rotation": rotation}
    notify(user, title=f"{'[P1] ' if urgent else ''}{title}"[:200],
           source="oncall", urgent=urgent, dedupe_key=f"oncall-page:{row.pk}", body=body,
           url=reverse("workforce_oncall:rotation", args=[rotation.pk]))
    return PageOutcome(row, created=True)


def _chain(root: Page) -> Q:
    return Q(pk=root.pk) | Q(dedupe_key__startswith=f"{ESCALATION_PREFIX}{root.pk}:")


def root_of(p: Page) -> Page:
    """The first page of an escalation chain (the page itself when it is not escalated)."""
    if p.dedupe_key and p.dedupe_key.startswith(ESCALATION_PREFIX):
        root_id = int(p.dedupe_key[len(ESCALATION_PREFIX):].split(":", 1)[0])
        return Page.objects.filter(pk=root_id).first() or p
    return p


@transaction.atomic
def acknowledge(p: Page, *, user: User, at: datetime | None = None) -> int:
    """The paged person acknowledges; the whole escalation chain stops. Returns rows set."""
    if p.user_id != user.pk:
        raise PermissionDenied(_("Only the person paged can acknowledge this page."))
    at = at or timezone.now()
    return Page.objects.filter(_chain(root_of(p)), acknowledged_at__isnull=True).update(
        acknowledged_at=at)


# --- escalation -------------------------------------------------------------------------

def create_policy(rotation: Rotation, *, name: str,
                  steps: Iterable[tuple[int, str]] = DEFAULT_STEPS) -> EscalationPolicy:
    """A policy with steps (after_minutes, target); defaults: primary 5, secondary 15,
    managers 30 minutes. Steps stay editable in the admin."""
    with transaction.atomic():
        policy = EscalationPolicy.objects.create(name=name, rotation=rotation)
        EscalationStep.objects.bulk_create(
            EscalationStep(policy=policy, after_minutes=m, target=t) for m, t in steps)
    return policy


def managers() -> list[User]:
    return list(User.objects.filter(groups__name=Role.MANAGER, is_active=True).distinct()
                .order_by("pk"))


@dataclass(frozen=True)
class Target:
    step: EscalationStep
    user: User
    role: str


def escalation_targets(policy: EscalationPolicy, *, started_at: datetime,
                       now: datetime | None = None) -> list[Target]:
    """Everyone who should have been paged by `now` for something that started at
    `started_at`, step by step (on-call people as covering at `now`)."""
    now = now or timezone.now()
    elapsed = now - started_at
    steps = [s for s in policy.steps.select_related("user").order_by("after_minutes", "pk")
             if timedelta(minutes=s.after_minutes) <= elapsed]
    if not steps:
        return []
    turn = current_turn(policy.rotation, at=now)
    targets: list[Target] = []
    for step in steps:
        if step.target == EscalationStep.Target.PRIMARY:
            people = [turn.primary]
        elif step.target == EscalationStep.Target.SECONDARY:
            people = [turn.secondary]
        elif step.target == EscalationStep.Target.MANAGERS:
            people = managers()
        else:
            people = [step.user]
        targets += [Target(step, u, step.target) for u in people if u is not None]
    return targets


def policy_for(rotation: Rotation) -> EscalationPolicy | None:
    return rotation.escalation_policies.order_by("name").first()


def escalate(root: Page, *, now: datetime | None = None,
             policy: EscalationPolicy | None = None) -> list[Page]:
    """Page the escalation steps now due for an unacknowledged page, each person once."""
    now = now or timezone.now()
    if root.acknowledged_at is not None:
        return []
    policy = policy or policy_for(root.rotation)
    if policy is None:
        return []
    chain = Page.objects.filter(_chain(root))
    if chain.filter(acknowledged_at__isnull=False).exists():
        return []
    already = set(chain.values_list("user_id", flat=True))
    sent = []
    for target in escalation_targets(policy, started_at=root.created_at, now=now):
        if target.user.pk in already:
            continue
        outcome = page_user(
            root.rotation, target.user, role=target.role, priority=root.priority,
            ticket=root.ticket, at=now, after_hours=root.after_hours,
            reason=f"Escalated (not acknowledged after {target.step.after_minutes} min): "
                   f"{root.reason}",
            dedupe_key=f"{ESCALATION_PREFIX}{root.pk}:{target.step.pk}:{target.user.pk}")
        already.add(target.user.pk)
        if outcome.created:
            sent.append(outcome.page)
    return sent


def escalate_due(*, now: datetime | None = None) -> int:
    """Escalate every unacknowledged first page of the last day; returns pages sent."""
    now = now or timezone.now()
    roots = (Page.objects.filter(acknowledged_at__isnull=True,
                                 created_at__gte=now - ESCALATION_HORIZON, created_at__lte=now)
             .exclude(dedupe_key__startswith=ESCALATION_PREFIX)
             .select_related("rotation", "ticket").order_by("created_at"))
    policies: dict[int, EscalationPolicy | None] = {}
    sent = 0
    for root in roots:
        if root.rotation_id not in policies:
            policies[root.rotation_id] = policy_for(root.rotation)
        sent += len(escalate(root, now=now, policy=policies[root.rotation_id]))
    return sent


# --- iCalendar --------------------------------------------------------------------------

def ical(rotation: Rotation, *, weeks: int = 8, at: datetime | None = None,
         domain: str = "helpdesk") -> str:
    """The next `weeks` turns as iCalendar: one event per turn and role (the scheduled
    person), plus one per override in that period."""
    at = at or timezone.now()
    plan = upcoming_turns(rotation, weeks=weeks, at=at)
    events = []
    for t in plan:
        for role, person in ((OnCallRole.PRIMARY, t.scheduled_primary),
                             (OnCallRole.SECONDARY, t.scheduled_secondary)):
            if person is None:
                continue
            events.append(rota.CalendarEvent(
                uid=f"rotation-{rotation.pk}-week-{t.week}-{role}@{domain}",
                starts_at=t.starts_at, ends_at=t.ends_at,
                summary=f"{rotation.name}: {person} on call ({role})",
                description=f"Week {t.week + 1} of {rotation.name}, handoff "
                            f"{t.starts_at.astimezone(handoffs(rotation).zone):%a %H:%M} "
                            f"{rotation.timezone}."))
    if plan:
        for o in _overrides(rotation, plan[0].starts_at, plan[-1].ends_at):
            events.append(rota.CalendarEvent(
                uid=f"rotation-{rotation.pk}-override-{o.pk}@{domain}",
                starts_at=o.starts_at, ends_at=o.ends_at,
                summary=f"{rotation.name}: {o.user} covers {o.role}",
                description=o.reason))
    return rota.ical_calendar(events, name=f"On call: {rotation.name}", stamp=at)

"""CSAT/NPS surveys: scheduling on resolution, sending, signed links, responses, follow-ups.

Every write about surveys goes through a function here (the event handler, the Celery
tasks and the public survey views all call them). Each is safe to run twice:

- scheduling relies on the unique (ticket, resolution) constraint, so duplicate events
  or retried tasks find the existing row instead of creating a second survey;
- sending locks the survey row and acts only while it is still "scheduled";
- a low score opens at most one follow-up (one-to-one with the survey), and its
  notification and reminder carry dedupe keys.

One-click rating links are GETs, which mail scanners may prefetch: a GET records the
score only when the survey has none yet (it never overwrites), and the page that follows
lets the customer confirm or change the score by POST, with an optional comment and NPS.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from helpdesk.mail import build_email
from helpdesk.models import Membership, User
from helpdesk.notifications import in_language_of, notify
from helpdesk.roles import Role

from . import events
from .models import FollowUp, Survey, Ticket
from .state_machine import Status

logger = logging.getLogger(__name__)

TOKEN_SALT = "tickets.surveys.link"
INTERNAL_TAG = "internal"  # no internal channel exists yet: the tag marks internal tickets
NO_SURVEY_TAG = "no-survey"
LOW_SCORES = (1, 2)
FOLLOW_UP_WITHIN = timedelta(hours=24)
COMMENT_MAX_LENGTH = 4000


def survey_delay() -> timedelta:
    return getattr(settings, "HELPDESK_SURVEY_DELAY", timedelta(hours=2))


def cooldown_days() -> int:
    return int(getattr(settings, "HELPDESK_SURVEY_COOLDOWN_DAYS", 30))


def link_days() -> int:
    return int(getattr(settings, "HELPDESK_SURVEY_LINK_DAYS", 14))


# --- scheduling -----------------------------------------------------------------------

def schedule_survey(ticket: Ticket, *, resolved_at: datetime | None = None) -> Survey | None:
    """The survey of the ticket's current resolution, created once (None if not resolved).

    The resolution number is the ticket's reopen count: reopening and resolving again
    makes a new resolution, hence a second survey.
    """
    ticket = Ticket.objects.filter(pk=ticket.pk).first()
    if ticket is None or ticket.status not in (Status.RESOLVED, Status.CLOSED):
        return None  # reopened before the handler ran: that resolution is void
    defaults = _survey_fields(ticket, resolved_at)
    try:
        with transaction.atomic():
            survey, _ = Survey.objects.get_or_create(
                ticket=ticket, resolution=ticket.reopen_count, defaults=defaults)
    except IntegrityError:  # a concurrent duplicate won the insert
        survey = Survey.objects.get(ticket=ticket, resolution=ticket.reopen_count)
    return survey


def _survey_fields(ticket: Ticket, resolved_at: datetime | None) -> dict[str, Any]:
    at = resolved_at or ticket.resolved_at or timezone.now()
    return {"requester_id": ticket.requester_id, "agent_id": ticket.assignee_id,
            "team_id": ticket.team_id, "scheduled_for": at + survey_delay()}


def schedule_surveys(resolutions: Iterable[tuple[int, datetime]]) -> int:
    """`schedule_survey` for many resolved tickets (ticket id, resolved at): the tickets
    and their surveys read once, the new surveys inserted in one statement (a survey a
    concurrent handler wrote first is kept). Returns how many it created."""
    when = dict(resolutions)
    tickets = list(Ticket.objects.filter(pk__in=list(when),
                                         status__in=[Status.RESOLVED, Status.CLOSED])
                   .only("pk", "requester_id", "assignee_id", "team_id", "resolved_at",
                         "reopen_count"))
    have = set(Survey.objects.filter(ticket_id__in=[t.pk for t in tickets])
               .values_list("ticket_id", "resolution"))
    new = [Survey(ticket_id=t.pk, resolution=t.reopen_count,
                  **_survey_fields(t, when[t.pk]))
           for t in tickets if (t.pk, t.reopen_count) not in have]
    Survey.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


# --- sending --------------------------------------------------------------------------

def make_token(survey: Survey) -> str:
    return signing.dumps({"survey": survey.pk}, salt=TOKEN_SALT, compress=True)


class SurveyLinkError(Exception):
    """A survey link that cannot be used; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


def survey_from_token(token: str) -> Survey:
    """The survey the token was signed for; raises SurveyLinkError when tampered or expired."""
    try:
        data = signing.loads(token, salt=TOKEN_SALT, max_age=timedelta(days=link_days()))
    except signing.SignatureExpired as exc:
        raise SurveyLinkError(_("This survey link has expired."), status=410) from exc
    except signing.BadSignature as exc:
        raise SurveyLinkError(_("This survey link is not valid."), status=400) from exc
    survey_id = data.get("survey") if isinstance(data, dict) else None
    survey = (Survey.objects.select_related("ticket").filter(pk=survey_id).first()
              if isinstance(survey_id, int) else None)
    if survey is None or survey.status not in (Survey.Status.SENT, Survey.Status.RESPONDED):
        raise SurveyLinkError(_("This survey link is not valid."), status=400)
    if survey.expires_at and survey.expires_at <= timezone.now():
        raise SurveyLinkError(_("This survey link has expired."), status=410)
    return survey


def skip_reason(survey: Survey, *, now: datetime) -> str:
    """Why the survey must not be sent, or "" to send it."""
    ticket = survey.ticket
    if ticket.status not in (Status.RESOLVED, Status.CLOSED) \
            or ticket.reopen_count != survey.resolution:
        return "The ticket was reopened after this resolution."
    tags = {t.name for t in ticket.tags.all()}
    if INTERNAL_TAG in tags:
        return "Internal ticket: no survey is sent."
    if NO_SURVEY_TAG in tags:
        return "The ticket is tagged no-survey."
    requester = survey.requester
    if not requester.is_active or not requester.email:
        return "The requester has no active e-mail address."
    recent = Survey.objects.filter(
        requester_id=survey.requester_id, sent_at__gte=now - timedelta(days=cooldown_days()),
    ).exclude(pk=survey.pk)
    if recent.exists():
        return f"The requester was surveyed in the last {cooldown_days()} days."
    return ""


def survey_urls(survey: Survey) -> dict:
    token = make_token(survey)
    base = settings.HELPDESK_BASE_URL
    return {
        "ratings": [(n, f"{base}{reverse('surveys:rate', args=[token, n])}")
                    for n in range(1, 6)],
        "feedback": f"{base}{reverse('surveys:feedback', args=[token])}",
    }


def send_mail(message: EmailMultiAlternatives) -> int:
    """Hand one built message to the e-mail backend (the seam tests use for an outage)."""
    return message.send()


def send_survey(survey_id: int) -> bool:
    """Send (or skip) one due survey, at most once: the row is locked and must be scheduled."""
    now = timezone.now()
    with transaction.atomic():
        survey = (Survey.objects.select_for_update()
                  .filter(pk=survey_id, status=Survey.Status.SCHEDULED).first())
        if survey is None:
            return False
        survey = (Survey.objects.select_related("ticket", "requester")
                  .prefetch_related("ticket__tags").get(pk=survey.pk))
        reason = skip_reason(survey, now=now)
        if reason:
            survey.status = Survey.Status.SKIPPED
            survey.skip_reason = reason[:200]
            survey.save(update_fields=["status", "skip_reason"])
            return False
        survey.status = Survey.Status.SENT
        survey.sent_at = now
        survey.expires_at = now + timedelta(days=link_days())
        survey.save(update_fields=["status", "sent_at", "expires_at"])
        context = {"survey": survey, "ticket": survey.ticket, "requester": survey.requester,
                   "link_days": link_days(), **survey_urls(survey)}
        # In the customer's language, the HTML part (built by the mail hooks) as well.
        with translation.override(survey.requester.language or settings.LANGUAGE_CODE):
            body = render_to_string("tickets/surveys/email.txt", context)
            subject = _("How did we do on ticket #%(number)s?") % {"number": survey.ticket_id}
            # Inside the lock: if the mail cannot be handed over, the row stays scheduled.
            send_mail(build_email(kind="survey", key=f"survey:{survey.pk}", subject=subject,
                                  text=body, to=[survey.requester.email],
                                  ticket_id=survey.ticket_id, context=context))
    return True


def due_surveys(*, now: datetime, limit: int) -> list[int]:
    return list(Survey.objects.filter(status=Survey.Status.SCHEDULED, scheduled_for__lte=now)
                .order_by("scheduled_for", "pk").values_list("pk", flat=True)[:limit])


def send_due_surveys(*, limit: int = 500) -> int:
    """Send every due survey (indexed scan on scheduled_for); returns how many were sent."""
    sent = 0
    for survey_id in due_surveys(now=timezone.now(), limit=limit):
        try:
            sent += send_survey(survey_id)
        except Exception:  # one bad address must not hold back the others
            logger.exception("Survey %s could not be sent; retried next run", survey_id)
    return sent


# --- responses ------------------------------------------------------------------------

def _check_rating(rating: int) -> int:
    if not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ValidationError({"rating": _("Choose a rating from 1 to 5.")})
    return rating


def _lock_open(survey: Survey) -> Survey:
    locked = Survey.objects.select_for_update().get(pk=survey.pk)
    if locked.status not in (Survey.Status.SENT, Survey.Status.RESPONDED):
        raise ValidationError(_("This survey is not open for answers."))
    if locked.expires_at and locked.expires_at <= timezone.now():
        raise ValidationError(_("This survey has expired."))
    return locked


def record_click(survey: Survey, rating: int) -> tuple[Survey, bool]:
    """One-click rating from the e-mail: recorded only if the survey has no rating yet.

    Returns the survey and whether this click recorded the rating.
    """
    _check_rating(rating)
    with transaction.atomic():
        survey = _lock_open(survey)
        if survey.rating is not None:
            return survey, False
        _set_rating(survey, rating)
        survey.save(update_fields=["rating", "status", "responded_at"])
        _answered(survey)
    return survey, True


def record_feedback(survey: Survey, *, rating: int | None = None, nps: int | None = None,
                    comment: str = "") -> Survey:
    """The answer from the survey page: confirm or change the rating, add NPS and comment."""
    if rating is not None:
        _check_rating(rating)
    if nps is not None and not (isinstance(nps, int) and 0 <= nps <= 10):
        raise ValidationError({"nps": _("Choose a score from 0 to 10.")})
    comment = (comment or "").strip()[:COMMENT_MAX_LENGTH]
    with transaction.atomic():
        survey = _lock_open(survey)
        if rating is None and survey.rating is None:
            raise ValidationError({"rating": _("Choose a rating from 1 to 5.")})
        if rating is not None:
            _set_rating(survey, rating)
        if nps is not None:
            survey.nps = nps
        if comment:
            survey.comment = comment
        survey.status = Survey.Status.RESPONDED
        survey.responded_at = timezone.now()
        survey.save(update_fields=["rating", "nps", "comment", "status", "responded_at"])
        _answered(survey)
    return survey


def _answered(survey: Survey) -> None:
    events.emit(events.SurveyAnswered(ticket_id=survey.ticket_id, actor_id=survey.requester_id,
                                      at=survey.responded_at, survey_id=survey.pk))


def _set_rating(survey: Survey, rating: int) -> None:
    survey.rating = rating
    survey.status = Survey.Status.RESPONDED
    survey.responded_at = timezone.now()
    if rating in LOW_SCORES:
        open_follow_up(survey)


# --- follow-ups of low scores ---------------------------------------------------------

def follow_up_owner(survey: Survey) -> User | None:
    """The lead of the ticket's team (as resolved, else now); else a manager."""
    team_id = survey.team_id or survey.ticket.team_id
    if team_id:
        lead = (Membership.objects.filter(team_id=team_id, is_lead=True, user__is_active=True)
                .select_related("user").order_by("pk").first())
        if lead is not None:
            return lead.user
    group = Group.objects.filter(name=Role.MANAGER).first()
    if group is None:
        return None
    return group.user_set.filter(is_active=True).order_by("pk").first()


def open_follow_up(survey: Survey) -> FollowUp:
    """The follow-up of a low score, once per survey, with a notification to its owner."""
    existing = FollowUp.objects.filter(survey=survey).first()
    if existing is not None:
        return existing
    owner = follow_up_owner(survey)
    try:
        with transaction.atomic():
            follow_up = FollowUp.objects.create(
                survey=survey, ticket_id=survey.ticket_id, owner=owner,
                due_at=timezone.now() + FOLLOW_UP_WITHIN)
    except IntegrityError:
        return FollowUp.objects.get(survey=survey)
    if owner is not None:
        with in_language_of(owner):
            title = _("Low satisfaction score on ticket #%(ticket)s") % {
                "ticket": survey.ticket_id}
            body = _("The customer rated %(rating)s/5. Please follow up within 24 hours.") % {
                "rating": survey.rating}
        notify(owner, title=title, body=body,
               url=reverse("surveys:follow_ups"), source="surveys.low_score",
               dedupe_key=f"surveys.follow_up:{follow_up.pk}")
    return follow_up


def remind_overdue_follow_ups(*, limit: int = 500) -> int:
    """One reminder per overdue, unhandled follow-up (reminded_at is set once)."""
    now = timezone.now()
    ids = list(FollowUp.objects.filter(handled_at__isnull=True, reminded_at__isnull=True,
                                       due_at__lte=now)
               .order_by("due_at").values_list("pk", flat=True)[:limit])
    reminded = 0
    for pk in ids:
        with transaction.atomic():
            follow_up = (FollowUp.objects.select_for_update(of=("self",))
                         .filter(pk=pk, handled_at__isnull=True, reminded_at__isnull=True)
                         .select_related("owner").first())
            if follow_up is None:
                continue
            follow_up.reminded_at = now
            follow_up.save(update_fields=["reminded_at"])
            if follow_up.owner is not None:
                with in_language_of(follow_up.owner):
                    title = _("Overdue: follow up the low score on ticket #%(ticket)s") % {
                        "ticket": follow_up.ticket_id}
                    body = _("This follow-up was due and has not been handled yet.")
                notify(follow_up.owner, title=title, body=body,
                       url=reverse("surveys:follow_ups"), source="surveys.follow_up_overdue",
                       dedupe_key=f"surveys.follow_up.reminder:{follow_up.pk}")
            reminded += 1
    return reminded


def can_handle(user: User, follow_up: FollowUp) -> bool:
    if not user.is_agent:
        return False
    if follow_up.owner_id == user.pk or user.sees_all_tickets:
        return True
    team_id = follow_up.survey.team_id or follow_up.ticket.team_id
    return bool(team_id) and Membership.objects.filter(
        team_id=team_id, user=user, is_lead=True).exists()


def handle_follow_up(follow_up: FollowUp, *, actor: User, outcome: str) -> FollowUp:
    # Permission first: someone who may not handle it learns nothing (404), not "say what".
    if not can_handle(actor, follow_up):
        raise PermissionDenied(_("Only the owner, a lead of the team or a manager can do this."))
    outcome = (outcome or "").strip()
    if not outcome:
        raise ValidationError({"outcome": _("Say what was done.")})
    with transaction.atomic():
        follow_up = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
        if follow_up.handled_at is not None:
            raise ValidationError(_("This follow-up was already handled."))
        follow_up.handled_at = timezone.now()
        follow_up.handled_by = actor
        follow_up.outcome = outcome
        follow_up.save(update_fields=["handled_at", "handled_by", "outcome"])
    return follow_up


# --- reads ----------------------------------------------------------------------------

def open_follow_ups(user: User) -> QuerySet[FollowUp]:
    """Unhandled follow-ups the user answers for: own, teams they lead, or all (managers)."""
    qs = (FollowUp.objects.filter(handled_at__isnull=True)
          .select_related("ticket", "survey", "owner").order_by("due_at", "pk"))
    if user.sees_all_tickets:
        return qs
    led = Membership.objects.filter(user=user, is_lead=True).values("team_id")
    return qs.filter(Q(owner=user) | Q(survey__team_id__in=led) | Q(ticket__team_id__in=led))


@dataclass(frozen=True)
class Satisfaction:
    rating: int
    nps: int | None
    comment: str
    responded_at: datetime
    resolution: int


def _as_satisfaction(survey: Survey) -> Satisfaction:
    return Satisfaction(survey.rating, survey.nps, survey.comment, survey.responded_at,
                        survey.resolution)


def latest_satisfaction(ticket_ids: list[int]) -> dict[int, Satisfaction]:
    """The latest answered survey of each ticket, in one query."""
    out: dict[int, Satisfaction] = {}
    rows = (Survey.objects.filter(ticket_id__in=ticket_ids, rating__isnull=False)
            .order_by("ticket_id", "-responded_at", "-pk"))
    for survey in rows:
        out.setdefault(survey.ticket_id, _as_satisfaction(survey))
    return out

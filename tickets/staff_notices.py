"""Staff notices: who among the staff hears of a ticket's change, and with what words.

Connected to the ticket's domain events from TicketsConfig.ready(), so each runs after
the change committed. Every notice goes through the notification service (bell,
e-mail by Celery, preferences, mutes, quiet hours, digest, urgent bypass for P1) with
the wording of `helpdesk.notice_templates` (keys `staff.*`).

Rules shared by every event:
- nobody hears of their own change;
- each recipient gets one notice per event, the most specific one (a mention wins over
  "a ticket you follow"), under a dedupe key made of the event's identity and the
  recipient: a handler that runs twice sends nothing new;
- only staff who can still see the ticket are told;
- the notifications of one event are inserted in one statement (no query per recipient).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db.models.functions import Lower
from django.utils import timezone

from helpdesk.models import Membership, Notification, User
from helpdesk.notice_templates import Wording, render_wording, wording_for
from helpdesk.notifications import notify_bulk

from . import events, selectors
from .models import Escalation, Message, Priority, Ticket, TicketFollower

EXCERPT_CHARS = 500
EMAIL_BATCH = 100  # notification e-mails per queued task when many tickets change at once
MAX_MENTIONS = 20
# "@name" not preceded by a word character (so "bob@example.com" mentions nobody);
# usernames may hold letters, digits and . + - _ ; a trailing dot ends the sentence.
MENTION = re.compile(r"(?<![\w@.+-])@([\w.+-]+)")


@dataclass(frozen=True)
class Notice:
    user: User
    key: str  # the notice template, e.g. staff.assigned (also the notification source)


def mentioned_usernames(body: str) -> list[str]:
    """The distinct `@username`s of a note, lower-cased, in order of appearance."""
    names: list[str] = []
    for match in MENTION.finditer(body or ""):
        name = match.group(1).rstrip(".-+").lower()
        if name and name not in names:
            names.append(name)
    return names[:MAX_MENTIONS]


def _ticket(ticket_id: int) -> Ticket | None:
    return (Ticket.objects.select_related("team", "assignee", "requester", "organization")
            .filter(pk=ticket_id).first())


def _values(ticket: Ticket, actor: User | None, **extra: str) -> dict[str, str]:
    """The placeholders every staff notice may use (the macros' set, and a few more)."""
    requester = ticket.requester
    return {
        "ticket_id": str(ticket.pk),
        "ticket_ref": ticket.reference,
        "subject": ticket.subject,
        "requester_name": requester.display_name,
        "requester_first_name": requester.first_name or requester.display_name,
        "organization": ticket.organization.name if ticket.organization else "—",
        "team": ticket.team.name if ticket.team else "—",
        "priority": f"P{ticket.priority}",
        "status": ticket.status_label,
        "assignee_name": ticket.assignee.display_name if ticket.assignee else "nobody",
        "actor_name": actor.display_name if actor else "The system",
        "agent_name": actor.display_name if actor else "The system",
        **extra,
    }


def _excerpt(body: str) -> str:
    body = (body or "").strip()
    return body if len(body) <= EXCERPT_CHARS else body[:EXCERPT_CHARS].rstrip() + "…"


def _actor(actor_id: int | None) -> User | None:
    return User.objects.filter(pk=actor_id).first() if actor_id else None


def _has_followers(ticket_id: int) -> bool:
    """One indexed look-up, so an incident update posted to a thousand tickets nobody
    follows costs one query per ticket here, not five."""
    return TicketFollower.objects.filter(ticket_id=ticket_id).exists()


def _followers(ticket: Ticket) -> list[User]:
    """Followers who can still see the ticket (one query)."""
    return [f.user for f in TicketFollower.objects.filter(
        ticket=ticket, user__in=selectors.staff_who_see(ticket)).select_related("user")]


def deliver(ticket: Ticket, notices: Iterable[Notice], *, event: str,
            actor_id: int | None, values: Mapping[str, str]) -> int:
    """Notify each recipient once (the first notice for them wins); the number recorded.

    `event` identifies the change (e.g. ``msg:12``): with the recipient it makes the
    dedupe key, so running the same event twice records nothing new.
    """
    notes = notifications(ticket, notices, event=event, actor_id=actor_id, values=values)
    notify_bulk(notes)
    return len(notes)


Wordings = dict[tuple[str, int | None, str], Wording]


def notifications(ticket: Ticket, notices: Iterable[Notice], *, event: str,
                  actor_id: int | None, values: Mapping[str, str],
                  wordings: Wordings | None = None) -> list[Notification]:
    """What `deliver` records, unsaved (a batch saves many tickets' at once); `wordings`
    keeps the notice wordings a batch has read, by (key, team)."""
    chosen: dict[int, Notice] = {}
    for notice in notices:
        if notice.user.pk == actor_id or not notice.user.is_active:
            continue
        chosen.setdefault(notice.user.pk, notice)
    if not chosen:
        return []
    wordings = {} if wordings is None else wordings
    rendered = {}
    # Each recipient reads the notice in their own language (the site's if they chose none).
    for key, language in {(n.key, _language(n.user)) for n in chosen.values()}:
        if (key, ticket.team_id, language) not in wordings:
            wordings[(key, ticket.team_id, language)] = wording_for(key, ticket.team_id,
                                                                    language)
        rendered[key, language] = render_wording(wordings[(key, ticket.team_id, language)],
                                                 values)
    now = timezone.now()
    urgent = ticket.priority == Priority.P1
    url = ticket.get_absolute_url()
    notes = []
    for uid, n in chosen.items():
        text = rendered[n.key, _language(n.user)]
        notes.append(Notification(
            recipient=n.user, title=text.subject[:200], body=text.text, body_html=text.html,
            url=url, source=n.key, urgent=urgent, dedupe_key=f"staff:{event}:{uid}",
            created_at=now, email_wanted=True))
    return notes


def _language(user) -> str:
    return getattr(user, "language", "") or settings.LANGUAGE_CODE


# --- handlers -------------------------------------------------------------------------

def on_assignee_changed(event: events.AssigneeChanged) -> None:
    """The new assignee hears it is theirs, the previous one that it no longer is."""
    on_assignees_changed([event])


def on_assignees_changed(batch: Sequence[events.AssigneeChanged]) -> None:
    """`on_assignee_changed` for changes written together (the bulk bar): tickets,
    people and wordings read once, the notifications saved in one statement."""
    tickets = {t.pk: t for t in (
        Ticket.objects.select_related("team", "assignee", "requester", "organization")
        .filter(pk__in={e.ticket_id for e in batch}))}
    people = User.objects.in_bulk({pk for e in batch
                                   for pk in (e.before_id, e.after_id, e.actor_id) if pk})
    wordings: Wordings = {}
    notes: list[Notification] = []
    for event in batch:
        ticket = tickets.get(event.ticket_id)
        if ticket is None:
            continue
        actor = people.get(event.actor_id) if event.actor_id else None
        notices = []
        if event.after_id in people:
            notices.append(Notice(people[event.after_id], "staff.assigned"))
        if event.before_id in people:
            notices.append(Notice(people[event.before_id], "staff.unassigned"))
        new = people.get(event.after_id) if event.after_id else None
        notes += notifications(
            ticket, notices, event=f"assign:{event.record_id}", actor_id=event.actor_id,
            wordings=wordings,
            values=_values(ticket, actor,
                           actor_name=actor.display_name if actor else "The auto-assigner",
                           assignee_name=new.display_name if new else "nobody"))
    # A bulk change's e-mails go to the broker a hundred per message, not one each.
    notify_bulk(notes, email_batch=EMAIL_BATCH if len(batch) > 1 else None)


def on_public_reply(event: events.PublicReply) -> None:
    """A customer's answer reaches the assignee (or the team's opted-in members when
    nobody owns the ticket); every public reply reaches the followers."""
    if event.by_agent and not _has_followers(event.ticket_id):
        return
    ticket = _ticket(event.ticket_id)
    message = Message.objects.filter(pk=event.message_id).select_related("author").first()
    if ticket is None or message is None:
        return
    notices: list[Notice] = []
    why = ""
    if not event.by_agent:
        if ticket.assignee is not None and ticket.assignee.is_agent:
            notices.append(Notice(ticket.assignee, "staff.customer_replied"))
            why = "you own it"
        elif ticket.assignee_id is None and ticket.team_id:
            opted_in = User.objects.filter(
                pk__in=Membership.objects.filter(team_id=ticket.team_id).values("user_id"),
                notification_preference__unassigned_replies=True,
            ).filter(pk__in=selectors.staff_who_see(ticket))
            notices += [Notice(u, "staff.customer_replied") for u in opted_in]
            why = f"unassigned, team {ticket.team.name}"
    notices += [Notice(u, "staff.followed_update") for u in _followers(ticket)]
    author = message.author
    change = "Customer reply" if not event.by_agent else "Public reply"
    deliver(ticket, notices, event=f"msg:{message.pk}", actor_id=event.actor_id,
            values=_values(ticket, author, change=change, why=why,
                           excerpt=_excerpt(message.body)))


def on_public_replies(batch: Sequence[events.PublicReply]) -> None:
    """Replies written together: which tickets have followers is asked once; agents'
    replies on the others tell nobody (as `on_public_reply` decides)."""
    followed = set(TicketFollower.objects.filter(
        ticket_id__in={e.ticket_id for e in batch}).values_list("ticket_id", flat=True))
    for event in batch:
        if not event.by_agent or event.ticket_id in followed:
            on_public_reply(event)


def on_note_added(event: events.NoteAdded) -> None:
    """Staff `@mentioned` in an internal note are told (if they can see the ticket);
    followers hear of the note."""
    message = Message.objects.filter(pk=event.message_id).select_related("author").first()
    if message is None:
        return
    names = mentioned_usernames(message.body)
    if not names and not _has_followers(event.ticket_id):
        return
    ticket = _ticket(event.ticket_id)
    if ticket is None:
        return
    notices: list[Notice] = []
    if names:
        mentioned = (selectors.staff_who_see(ticket).annotate(login=Lower("username"))
                     .filter(login__in=names))
        notices += [Notice(u, "staff.mentioned") for u in mentioned]
    notices += [Notice(u, "staff.followed_update") for u in _followers(ticket)]
    deliver(ticket, notices, event=f"msg:{message.pk}", actor_id=event.actor_id,
            values=_values(ticket, message.author, change="Internal note",
                           excerpt=_excerpt(message.body)))


def on_status_changed(event: events.StatusChanged) -> None:
    if not _has_followers(event.ticket_id):
        return
    ticket = _ticket(event.ticket_id)
    if ticket is None:
        return
    followers = _followers(ticket)
    if not followers:
        return
    from .state_machine import LABELS, Status

    before, after = LABELS[Status(event.before)], LABELS[Status(event.after)]
    actor = _actor(event.actor_id)
    deliver(ticket, [Notice(u, "staff.followed_update") for u in followers],
            event=f"status:{ticket.pk}:{event.at.timestamp():.6f}:{event.after}",
            actor_id=event.actor_id,
            values=_values(ticket, actor, change=f"Status {before} → {after}",
                           excerpt=f"{before} → {after}"))


def on_statuses_changed(batch: Sequence[events.StatusChanged]) -> None:
    """Status changes written together: which tickets have followers is asked once."""
    followed = set(TicketFollower.objects.filter(
        ticket_id__in={e.ticket_id for e in batch}).values_list("ticket_id", flat=True))
    for event in batch:
        if event.ticket_id in followed:
            on_status_changed(event)


def on_escalated(event: events.Escalated) -> None:
    """The receiving side hears a ticket arrived, with its handoff packet: every member
    of the team it was escalated to; for engineering, the leads of the ticket's team."""
    esc = (Escalation.objects.select_related("from_team", "to_team")
           .filter(pk=event.escalation_id).first())
    ticket = _ticket(event.ticket_id)
    if esc is None or ticket is None:
        return
    if esc.kind == Escalation.Kind.ENGINEERING:
        target = "engineering"
        members = Membership.objects.filter(team_id=ticket.team_id, is_lead=True)
    else:
        target = esc.to_team.name if esc.to_team else "another tier"
        members = Membership.objects.filter(team_id=esc.to_team_id)
    recipients = User.objects.filter(pk__in=members.values("user_id")).filter(
        pk__in=selectors.staff_who_see(ticket))
    actor = _actor(event.actor_id)
    deliver(ticket, [Notice(u, "staff.escalated") for u in recipients],
            event=f"esc:{esc.pk}", actor_id=event.actor_id,
            values=_values(ticket, actor, target=target,
                           from_team=esc.from_team.name if esc.from_team else "—",
                           issue_summary=esc.issue_summary,
                           troubleshooting_done=esc.troubleshooting_done,
                           reason=esc.reason, customer_expectation=esc.customer_expectation,
                           next_steps=esc.next_steps))


def connect() -> None:
    events.subscribe(events.AssigneeChanged, on_assignee_changed, deferred=True,
                     many=on_assignees_changed)
    events.subscribe(events.PublicReply, on_public_reply, deferred=True,
                     many=on_public_replies)
    events.subscribe(events.NoteAdded, on_note_added, deferred=True)
    events.subscribe(events.StatusChanged, on_status_changed, deferred=True,
                     many=on_statuses_changed)
    events.subscribe(events.Escalated, on_escalated, deferred=True)

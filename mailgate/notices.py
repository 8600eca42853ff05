"""Customer notices: the e-mails requesters and CCs get about their tickets, every channel.

Flow: a ticket event (after commit) → `queue_*` writes one `OutboundEmail` row per event
and person (unique key, so a replayed event or a second worker writes nothing new) and
queues its send → `send_outbound` renders it from the editable notice template at send
time. The request that caused the event only writes rows: no rendering, no SMTP.

Rules held here:
- Who: the requester and the CCs with an address, never the person who made the change
  (except the acknowledgement of a new ticket, which is what its requester wants).
- Preferences (`CustomerMailPreference`): `all_email` off stops everything; replies to
  their tickets go out otherwise; status notices, reminders and incident updates each
  have their own switch, the last two with a one-click unsubscribe (RFC 8058).
- Loop safety: automatic notices carry `Auto-Submitted: auto-generated`, are never sent
  to a bouncing address (held and recorded) and stop at `HELPDESK_CUSTOMER_MAIL_HOURLY_CAP`
  per address and hour (the extra ones are recorded as suppressed). Automatic inbound
  mail never becomes a ticket or a reply (`loops.py`), so it triggers no notice.
- Only public content: a reply's own public text, its shared attachments, the latest
  public customer message, the public waiting reason, public incident updates.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from email.utils import formataddr, make_msgid, parseaddr
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db.models import Count, Q
from django.template.defaultfilters import linebreaksbr
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import gettext as _

from helpdesk import formats as display
from helpdesk.mail import OutgoingMail, mail_domain
from helpdesk.models import User
from helpdesk.notice_templates import Block, render_notice
from tickets import deadlines
from tickets.models import Attachment, Message, Ticket
from tickets.rendering import render_markdown
from tickets.state_machine import LABELS, Status
from tickets.timeline import note_text

from . import bounces, parsing, send_queue
from .models import (
    CustomerMailPreference,
    Mailbox,
    OutboundEmail,
    OutboundStatus,
    TeamSender,
)
from .services import own_addresses, token_prefix
from .threads import angle, thread_ids, threaded_subject

logger = logging.getLogger(__name__)

# What each notice is about, for the preferences.
REPLY, STATUS, REMINDER, INCIDENT = "reply", "status", "reminder", "incident"
TOPICS = {
    "customer.reply": REPLY,
    "customer.created": STATUS,
    "customer.waiting": STATUS,
    "customer.resolved": STATUS,
    "customer.auto_resolved": STATUS,
    "customer.closed": STATUS,
    "customer.merged": STATUS,
    "customer.reminder": REMINDER,
    "customer.update": STATUS,  # a trigger's or an automation's e-mail (mailgate.rules)
    "customer.incident_update": INCIDENT,
}
UNSUBSCRIBABLE = {REMINDER: "reminders", INCIDENT: "incident_updates"}
PREFERENCE_FIELD = {STATUS: "status_updates", **UNSUBSCRIBABLE}
UNSUBSCRIBE_SALT = "mailgate.unsubscribe"
QUOTE_CHARS = 1500


def hourly_cap() -> int:
    return int(getattr(settings, "HELPDESK_CUSTOMER_MAIL_HOURLY_CAP", 20))


def enabled() -> bool:
    return bool(getattr(settings, "HELPDESK_CUSTOMER_NOTICES", True))


# --- suppressors: apps above mailgate say "this one is told another way" -------------

Suppressor = Callable[[str, int, int | None, dt.datetime], bool]
# Its set-wise form: (notice, [(ticket_id, message_id, at), ...]) -> indexes suppressed.
ManySuppressor = Callable[[str, Sequence[tuple[int, int | None, dt.datetime]]], set[int]]
_suppressors: list[Suppressor] = []
_many_forms: dict[Suppressor, ManySuppressor] = {}


def register_suppressor(fn: Suppressor, *, many: ManySuppressor | None = None) -> None:
    """`fn(notice, ticket_id, message_id, at)` returns True when the notice must not go
    (e.g. incidents: a public update reaches each customer once, in its own digest);
    `many`, the same rule for many notices at once (see `suppressed_many`)."""
    if fn not in _suppressors:
        _suppressors.append(fn)
    if many is not None:
        _many_forms[fn] = many


def suppressed(notice: str, ticket_id: int, message_id: int | None, at: dt.datetime) -> bool:
    return any(fn(notice, ticket_id, message_id, at) for fn in _suppressors)


def suppressed_many(notice: str,
                    items: Sequence[tuple[int, int | None, dt.datetime]]) -> set[int]:
    """`suppressed` for many (ticket_id, message_id, at): the indexes of those that must
    not go, asked of each suppressor once (its set-wise form) where it has one."""
    out: set[int] = set()
    for fn in _suppressors:
        left = [i for i in range(len(items)) if i not in out]
        if not left:
            break
        many = _many_forms.get(fn)
        if many is not None:
            hits = many(notice, [items[i] for i in left])
            out.update(left[j] for j in hits)
        else:
            out.update(i for i in left if fn(notice, *items[i]))
    return out


# --- preferences ------------------------------------------------------------------------

def preferences(user_ids: Iterable[int]) -> dict[int, CustomerMailPreference]:
    return {p.user_id: p for p in CustomerMailPreference.objects.filter(user_id__in=user_ids)}


def wants(pref: CustomerMailPreference | None, topic: str) -> bool:
    if pref is None:
        return True
    if not pref.all_email:
        return False
    field = PREFERENCE_FIELD.get(topic)
    return True if field is None else bool(getattr(pref, field))


def unsubscribe_token(user_id: int, topic: str) -> str:
    return signing.dumps({"u": user_id, "t": topic}, salt=UNSUBSCRIBE_SALT, compress=True)


def read_unsubscribe_token(token: str) -> tuple[int, str]:
    """(user id, topic) of a signed token; raises signing.BadSignature when forged."""
    data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    if not isinstance(data, dict) or data.get("t") not in UNSUBSCRIBABLE:
        raise signing.BadSignature("not an unsubscribe token")
    return int(data["u"]), str(data["t"])


def unsubscribe(user: User, topic: str) -> CustomerMailPreference:
    pref, _ = CustomerMailPreference.objects.get_or_create(user=user)
    setattr(pref, UNSUBSCRIBABLE[topic], False)
    pref.save()
    logger.info("User %s unsubscribed from %s", user.pk, topic)
    return pref


# --- who ------------------------------------------------------------------------------

def staff_ids(user_ids: Iterable[int]) -> set[int]:
    """Who among these people works tickets (one query, not a permission check each)."""
    work = Q(groups__permissions__codename="work_ticket",
             groups__permissions__content_type__app_label="tickets") | Q(
        user_permissions__codename="work_ticket",
        user_permissions__content_type__app_label="tickets") | Q(is_superuser=True)
    return set(User.objects.filter(pk__in=set(user_ids)).filter(work)
               .values_list("pk", flat=True))


def customers_of(ticket: Ticket, *, staff: set[int] | None = None) -> list[User]:
    """The requester and the CCs (customers only), requester first. `staff`: the ids
    of staff among them, when the caller looked them up for many tickets at once."""
    people = [p for p in [ticket.requester, *ticket.ccs.all()] if p is not None]
    if staff is None:
        staff = staff_ids(p.pk for p in people)
    seen: set[int] = set()
    out = []
    for person in people:
        if person.pk in seen or person.pk in staff:
            continue
        seen.add(person.pk)
        out.append(person)
    return out


def _eligible(people: Sequence[User], topic: str, *, skip_user_id: int | None) -> list[User]:
    prefs = preferences(p.pk for p in people)
    own = own_addresses()
    return [p for p in people
            if p.pk != skip_user_id and p.is_active and p.email
            and p.email.lower() not in own and wants(prefs.get(p.pk), topic)]


# --- queueing ---------------------------------------------------------------------------

def _stamp(at: dt.datetime) -> str:
    return str(int(at.timestamp() * 1_000_000))


def _mailbox() -> Mailbox | None:
    return Mailbox.objects.filter(is_active=True).order_by("pk").first()


def _enqueue(outbound_id: int) -> None:
    send_queue.enqueue(outbound_id)


def _recent_counts(addresses: Sequence[str], now: dt.datetime) -> dict[str, int]:
    """Automatic notices each address got in the last hour (suppressed ones not counted)."""
    rows = (OutboundEmail.objects.filter(recipient__in=addresses, automatic=True,
                                         created_at__gte=now - dt.timedelta(hours=1))
            .exclude(status=OutboundStatus.SUPPRESSED)
            .values("recipient").annotate(n=Count("pk")))
    return {r["recipient"]: r["n"] for r in rows}


def queue_per_person(notice: str, items: Sequence[tuple[User, dict]], *, event_key: str,
                     ticket: Ticket | None = None,
                     skip_user_id: int | None = None) -> list[OutboundEmail]:
    """One automatic notice per eligible person (each with its own values), once per
    (notice, event, person): a few queries for the whole batch, whatever its size."""
    if not enabled() or not items:
        return []
    topic = TOPICS[notice]
    context_of = {person.pk: ctx for person, ctx in items}
    people = _eligible([p for p, _ in items], topic, skip_user_id=skip_user_id)
    keys = {p.pk: f"{notice}:{event_key}:{p.pk}"[:100] for p in people}
    done = set()
    for key, pk, status, attempts in OutboundEmail.objects.filter(
            key__in=keys.values()).values_list("key", "pk", "status", "attempts"):
        done.add(key)  # a replayed event: written before
        if status == OutboundStatus.QUEUED and attempts == 0:
            # Its writer may have died before queueing it: queue it again (sending is
            # once, under the row lock), instead of waiting for the stalled sweep.
            _enqueue(pk)
    people = [p for p in people if keys[p.pk] not in done]
    if not people:
        return []
    held = bounces.held_addresses(p.email for p in people)
    now = timezone.now()
    counts = _recent_counts([p.email.strip().lower() for p in people], now)
    mailbox = _mailbox()
    domain = mailbox.address.rsplit("@", 1)[-1] if mailbox else mail_domain()
    rows = []
    for person in people:
        address = person.email.strip().lower()
        if address in held:
            bounces.hold_automatic(OutgoingMail(kind="notice", key=keys[person.pk],
                                                subject=notice, text="", to=[address],
                                                ticket_id=ticket.pk if ticket else None))
            continue
        over = counts.get(address, 0) >= hourly_cap()
        counts[address] = counts.get(address, 0) + (0 if over else 1)
        rows.append(OutboundEmail(
            key=keys[person.pk], kind="notice", notice=notice, ticket=ticket,
            mailbox=mailbox, to=address, recipient=address, automatic=True, subject=notice,
            message_id=parsing.normalise_msgid(make_msgid("hd", domain=domain)),
            context={"user": person.pk, **context_of[person.pk]}, created_at=now,
            status=OutboundStatus.SUPPRESSED if over else OutboundStatus.QUEUED))
    # A concurrent twin of this event may have written some keys meanwhile: skip those.
    OutboundEmail.objects.bulk_create(rows, ignore_conflicts=True)
    created = list(OutboundEmail.objects.filter(key__in=[r.key for r in rows],
                                                created_at=now,
                                                message_id__in=[r.message_id for r in rows]))
    for row in created:
        if row.status == OutboundStatus.SUPPRESSED:
            logger.warning("Notice %s to %s not sent: hourly cap reached", row.key, row.to)
        else:
            _enqueue(row.pk)
    return created


def queue_notice(notice: str, *, people: Sequence[User], event_key: str,
                 ticket: Ticket | None = None, context: dict | None = None,
                 skip_user_id: int | None = None) -> list[OutboundEmail]:
    """The same notice, with the same values, to each eligible person."""
    return queue_per_person(notice, [(p, dict(context or {})) for p in people],
                            event_key=event_key, ticket=ticket, skip_user_id=skip_user_id)


def queue_incident_update(update_id: int, *, tickets_of: dict[User, list[int]],
                          title: str, text: str | Callable[[User], str],
                          status_url: str) -> list[OutboundEmail]:
    """An incident's public update: ONE e-mail per customer, listing all of their linked
    tickets (incidents calls this after its fan-out; once per update and person).
    `text` is the update, or a function giving it for a person (in their language)."""
    items = [(person, {"tickets": sorted(ids), "incident_title": title,
                       "update_text": text(person) if callable(text) else text,
                       "status_url": status_url})
             for person, ids in tickets_of.items()]
    return queue_per_person("customer.incident_update", items, event_key=f"u{update_id}")


def queue_ticket_notice(notice: str, ticket_id: int, *, at: dt.datetime,
                        actor_id: int | None, context: dict | None = None,
                        tell_actor: bool = False, suffix: str = "") -> list[OutboundEmail]:
    if not enabled() or suppressed(notice, ticket_id, None, at):
        return []
    ticket = (Ticket.objects.select_related("requester").prefetch_related("ccs")
              .filter(pk=ticket_id).first())
    if ticket is None:
        return []
    return queue_notice(notice, people=customers_of(ticket), ticket=ticket,
                        event_key=f"{ticket_id}:{_stamp(at)}{suffix}", context=context,
                        skip_user_id=None if tell_actor else actor_id)


def reply_recipients(message: Message) -> list[str]:
    """Addresses an agent's public reply goes to: every customer of the ticket who did
    not turn e-mail off entirely."""
    if not enabled():
        return []
    people = _eligible(customers_of(message.ticket), REPLY, skip_user_id=message.author_id)
    return list(dict.fromkeys(p.email for p in people))


# --- rendering (at send time) ------------------------------------------------------------

def _url(path: str) -> str:
    return f"{settings.HELPDESK_BASE_URL}{path}"


def portal_url(ticket_id: int) -> str:
    return _url(reverse("portal:ticket", args=[ticket_id]))


def _local(value: dt.datetime | None, user: User | None) -> str:
    if value is None:
        return ""
    try:
        zone = ZoneInfo(user.time_zone if user and user.time_zone else "UTC")
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    local = value.astimezone(zone)
    # Day and month names in the recipient's language (rendered inside their override).
    return f"{display.date_format(local, 'LONG_DATETIME_FORMAT')} ({zone.key})"


def _quote(text: str) -> Block:
    text = text.strip()
    if len(text) > QUOTE_CHARS:
        text = text[:QUOTE_CHARS].rstrip() + " …"
    quoted = "\n".join(f"> {line}" if line else ">" for line in text.splitlines())
    html = ('<blockquote style="margin:0 0 0 .8em;padding-left:.8em;'
            f'border-left:3px solid #d0d7de;color:#57606a;">{linebreaksbr(escape(text))}'
            "</blockquote>")
    return Block(quoted, html)


def _latest_customer_text(ticket: Ticket, before: dt.datetime) -> str:
    msg = (Message.objects.filter(ticket=ticket, is_public=True, by_agent=False,
                                  created_at__lt=before)
           .order_by("-created_at", "-pk").values_list("body", flat=True).first())
    return msg if msg is not None else ticket.description


def _attachments(message: Message) -> Block:
    files = list(Attachment.objects.filter(message=message, sender_only=False).order_by("pk"))
    if not files:
        return Block("", "")
    lines, items = [], []
    for f in files:
        url = _url(reverse("portal:attachment", args=[f.pk]))
        size = f"{max(f.size // 1024, 1)} KB"
        lines.append(f"- {f.filename} ({size}): {url}")
        items.append(f'<li><a href="{escape(url)}">{escape(f.filename)}</a> ({size})</li>')
    label = _("Attachments:")
    return Block(label + "\n" + "\n".join(lines) + "\n",
                 f"<p>{escape(label)}</p><ul>" + "".join(items) + "</ul>")


def _ticket_list(ticket_ids: Sequence[int]) -> Block:
    tickets = list(Ticket.objects.filter(pk__in=ticket_ids).order_by("pk")
                   .only("pk", "subject"))
    lines = [f"- {t.reference} {t.subject}: {portal_url(t.pk)}" for t in tickets]
    items = [f'<li><a href="{escape(portal_url(t.pk))}">{escape(t.reference)}</a> '
             f"{escape(t.subject)}</li>" for t in tickets]
    return Block("\n".join(lines), "<ul>" + "".join(items) + "</ul>")


@dataclass
class Sender:
    name: str
    signature: str


def sender_for(team_id: int | None, mailbox: Mailbox | None = None) -> Sender:
    """The team's sender name and signature; else the mailbox's name, else the setting."""
    row = TeamSender.objects.filter(team_id=team_id).first() if team_id else None
    if row is not None:
        return Sender(row.sender_name, row.signature)
    default = getattr(settings, "HELPDESK_MAIL_SENDER_NAME", "Support")
    return Sender(mailbox.name if mailbox else default, "")


def notice_values(row: OutboundEmail) -> dict[str, str | Block]:
    """Every placeholder of a notice, from public data only."""
    ctx = row.context or {}
    ticket = row.ticket
    person = User.objects.filter(pk=ctx.get("user")).first() if ctx.get("user") else None
    if person is None and ticket is not None:
        person = ticket.requester
    sender = sender_for(ticket.team_id if ticket else ctx.get("team"), row.mailbox)
    values: dict[str, str | Block] = {
        "customer_name": person.display_name if person else "",
        "sender_name": sender.name,
        "signature": Block(sender.signature, linebreaksbr(escape(sender.signature))),
        "preferences_url": _url(reverse("mailgate:preferences")),
    }
    topic = TOPICS.get(row.notice, "")
    if person is not None and topic in UNSUBSCRIBABLE:
        values["unsubscribe_url"] = unsubscribe_url(person.pk, topic)
    if ticket is not None:
        values.update({
            "ticket_reference": ticket.reference, "ticket_subject": ticket.subject,
            "ticket_status": _(LABELS.get(Status(ticket.status), ticket.status)),
            "portal_url": portal_url(ticket.pk),
            "team_name": ticket.team.name if ticket.team_id else "",
            # Public: the portal shows it on the ticket as well (a fixed reason the system
            # stored, such as an incident's, read in the recipient's language there too).
            "waiting_reason": _("What we need from you: %(reason)s")
            % {"reason": note_text(ticket.waiting_reason)}
            if ticket.status == Status.WAITING_ON_CUSTOMER and ticket.waiting_reason else "",
        })
    if row.notice == "customer.created" and ticket is not None:
        due = deadlines.first_response_due(ticket.pk) or ticket.sla_due_at
        values["first_response_due"] = (
            _("We aim to answer by %(time)s.") % {"time": _local(due, person)} if due else
            _("We will answer as soon as we can."))
    message = row.ticket_message
    if message is not None and message.is_public and ticket is not None:
        values["reply"] = Block(message.body, render_markdown(message.body))
        values["agent_name"] = message.author.display_name if message.author else _("Support")
        values["attachments"] = _attachments(message)
        values["quote"] = _quote(_latest_customer_text(ticket, message.created_at))
    if "merged_into" in ctx:
        values["merged_into_reference"] = f"#{ctx['merged_into']}"
        values["merged_into_url"] = portal_url(int(ctx["merged_into"]))
    for name in ("reminder_number", "auto_resolve_days", "incident_title", "status_url"):
        if name in ctx:
            values[name] = str(ctx[name])
    if "update_text" in ctx:
        values["update"] = Block(ctx["update_text"], render_markdown(ctx["update_text"]))
    if "tickets" in ctx:
        values["tickets"] = _ticket_list(ctx["tickets"])
    return values


def unsubscribe_url(user_id: int, topic: str) -> str:
    return _url(reverse("mailgate:unsubscribe", args=[unsubscribe_token(user_id, topic)]))


def recipient_language(row: OutboundEmail) -> str:
    """The language of the person a notice is for (their choice, else the site's)."""
    ctx = row.context or {}
    person_id = ctx.get("user") or (row.ticket.requester_id if row.ticket_id else None)
    chosen = (User.objects.filter(pk=person_id).values_list("language", flat=True).first()
              if person_id else "")
    return chosen or settings.LANGUAGE_CODE


def notice_email(row: OutboundEmail) -> EmailMultiAlternatives:
    """The e-mail of a notice row, rendered now from its template (team wording first), in
    the recipient's language."""
    with translation.override(recipient_language(row)):
        return _notice_email(row)


def _notice_email(row: OutboundEmail) -> EmailMultiAlternatives:
    ticket = row.ticket
    values = notice_values(row)
    rendered = render_notice(row.notice, values,
                             team_id=ticket.team_id if ticket else None)
    address = row.mailbox.address if row.mailbox else settings.DEFAULT_FROM_EMAIL
    headers = {"Message-ID": angle(row.message_id),
               "X-Auto-Response-Suppress": "All"}
    if row.automatic:
        headers["Auto-Submitted"] = "auto-generated"
    subject = rendered.subject
    if ticket is not None:
        headers[f"X-{token_prefix()}-Ticket"] = str(ticket.pk)
        subject = threaded_subject(subject, ticket.pk)
        if row.kind != "reply":
            in_reply_to, refs = thread_ids(ticket, exclude_pk=row.pk)
            row.in_reply_to, row.references = in_reply_to, " ".join(refs)
        if row.in_reply_to:
            headers["In-Reply-To"] = angle(row.in_reply_to)
        if row.references:
            headers["References"] = " ".join(angle(r) for r in row.references.split())
    if "unsubscribe_url" in values:
        # RFC 8058: a POST to this URL unsubscribes without any further step.
        headers["List-Unsubscribe"] = f"<{values['unsubscribe_url']}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    row.subject = subject[:300]
    name = str(values.get("sender_name") or "Support")
    if row.kind == "reply" and values.get("agent_name"):
        name = _("%(agent)s via %(team)s") % {"agent": values["agent_name"], "team": name}
    email = EmailMultiAlternatives(subject, rendered.text,
                                   formataddr((name, parseaddr(address)[1])),
                                   row.recipients, headers=headers, reply_to=[address])
    email.attach_alternative(rendered.html, "text/html")
    return email

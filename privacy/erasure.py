"""Erasure of one person everywhere (GDPR Art. 17): irreversible, approved by a second admin.

Their own rows are rewritten by name (tickets they filed, messages they wrote, raw e-mail,
attachments, survey comments, searches, votes, notifications, mail logs); then every text
column of every table is swept for their name, e-mail and username, so that what other
people wrote about them ("Hi Alice Smith") keeps its sense without naming them. The ticket
history stays for the other party, the person shown as "Erased user #N".

Custom field values: on the tickets they filed, every free-text value (text, long text,
pattern) is cleared, whatever the field, since a customer may have typed anything there;
on any ticket, a link-to-user field pointing at them is cleared. Numbers, dates, options,
check boxes and organization links describe the case, not the person, and stay (any name
or e-mail address in them is swept like every other text).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from importlib import import_module
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.utils import translation
from django.utils.translation import gettext

from helpdesk import audit
from helpdesk.models import AuditEntry, Notification, NotificationPreference, User
from knowledge.models import ArticleFlag, ArticleVote, SearchLog, Visit
from mailgate.models import (
    BounceMark,
    CustomerMailPreference,
    HeldEmail,
    InboundMessage,
    OutboundEmail,
    Quarantine,
)
from tickets import custom_fields as cf
from tickets.models import Attachment, CustomField, Message, Survey, Ticket, TicketEvent

from .models import PrivacyRequest

ERASED_TEXT = "[erased]"
MIN_IDENTIFIER = 4  # shorter strings ("Al") would rewrite unrelated words


def erased_name(pk: int) -> str:
    return f"Erased user #{pk}"


def identifiers(user: User) -> list[str]:
    """What names the person in text written by anyone: full name, e-mail, username."""
    found = {user.get_full_name().strip(), (user.email or "").strip(), user.username.strip(),
             (user.last_name or "").strip()}
    return sorted((i for i in found if len(i) >= MIN_IDENTIFIER), key=len, reverse=True)


def _chunks(ids: list[int], size: int = 200) -> list[list[int]]:
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def _delete_file(field_file: Any) -> None:
    name = getattr(field_file, "name", "") or ""
    if name:
        transaction.on_commit(lambda: default_storage.delete(name))


def _text_fields(model: type[models.Model]) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField)
            and not f.primary_key and not isinstance(f, models.FileField)]


def _scrub(value: Any, pattern: re.Pattern[str], replacement: str) -> Any:
    if isinstance(value, str):
        return pattern.sub(replacement, value)
    if isinstance(value, list):
        return [_scrub(v, pattern, replacement) for v in value]
    if isinstance(value, dict):
        return {_scrub(k, pattern, replacement): _scrub(v, pattern, replacement)
                for k, v in value.items()}
    return value


def sweep(names: list[str], replacement: str) -> int:
    """Replace `names` in every text column of every table; returns the rows rewritten.

    A scan per column: slow on a large database, and run by a Celery worker for that
    reason. Rows are rewritten with queryset updates, so append-only logs (ticket events,
    the audit log) lose the name without losing or gaining an entry.
    """
    if not names:
        return 0
    pattern = re.compile("|".join(re.escape(n) for n in names), re.IGNORECASE)
    rewritten = 0
    for model in apps.get_models(include_auto_created=True):
        if model._meta.proxy or not model._meta.managed:
            continue
        for f in _text_fields(model):
            # JSON columns are compared on their serialised text (Django's JSONIContains).
            match = models.Q()
            for n in names:
                match |= models.Q(**{f"{f.attname}__icontains": n})
            rows = model._base_manager.filter(match).values_list("pk", f.attname)
            for pk, value in rows.iterator(chunk_size=500):
                new = _scrub(value, pattern, replacement)
                if isinstance(new, str) and getattr(f, "max_length", None):
                    new = new[: f.max_length]
                if new != value:
                    model._base_manager.filter(pk=pk).update(**{f.attname: new})
                    rewritten += 1
    return rewritten


FREE_TEXT = (cf.TEXT, cf.LONG_TEXT, cf.REGEX)


def _erase_custom_values(pk: int, ticket_ids: list[int]) -> int:
    """Clear the custom values that may hold the person's data (see the module docstring),
    of retired fields too, and the values their change events show; tickets rewritten."""
    kinds = dict(CustomField.objects.values_list("key", "field_type"))
    free_text = [k for k, kind in kinds.items() if kind in FREE_TEXT]
    user_links = [k for k, kind in kinds.items() if kind == cf.USER]
    rewritten = 0

    def clear(rows: models.QuerySet[Ticket], keys: Callable[[str, Any], bool]) -> None:
        nonlocal rewritten
        for ticket_id, values in rows.values_list("pk", "custom_fields").iterator(
                chunk_size=500):
            gone = [k for k, v in (values or {}).items() if keys(k, v)]
            if gone:
                Ticket.objects.filter(pk=ticket_id).update(custom_fields={
                    k: v for k, v in values.items() if k not in gone})
                TicketEvent.objects.filter(
                    ticket_id=ticket_id, field__in=[f"custom:{k}" for k in gone]).update(
                    before="", after="")
                rewritten += 1

    if free_text or user_links:
        for chunk in _chunks(ticket_ids):
            clear(Ticket.objects.filter(pk__in=chunk),
                  lambda k, v: k in free_text or (k in user_links and v == pk))
            # A value set and cleared again lives on in its change events only.
            TicketEvent.objects.filter(
                ticket_id__in=chunk, field__in=[f"custom:{k}" for k in free_text]).update(
                before="", after="")
    if user_links:
        pointing = models.Q(pk__in=[])
        for key in user_links:
            pointing |= models.Q(**{f"custom_fields__{key}": pk})
        clear(Ticket.objects.filter(pointing).exclude(requester_id=pk),
              lambda k, v: k in user_links and v == pk)
    return rewritten


def _quarantined_mentions(names: list[str]) -> list[Quarantine]:
    """Quarantined raw e-mails (unparsed, linked to no one) that name the person."""
    needles = [n.lower().encode() for n in names]
    found = []
    for item in Quarantine.objects.exclude(raw="").iterator(chunk_size=200):
        try:
            with default_storage.open(item.raw.name, "rb") as fh:
                content = fh.read().lower()
        except OSError:
            continue
        if any(n in content for n in needles):
            found.append(item)
    return found


def _retitle_notifications(rows: models.QuerySet, label: str) -> None:
    """The staff's notifications about the person's tickets lose their text; the new
    title is written in each recipient's language (one UPDATE per language among them)."""
    for language in set(rows.values_list("recipient__language", flat=True)):
        with translation.override(language or settings.LANGUAGE_CODE):
            title = gettext("About a ticket of %(person)s") % {"person": label}
        rows.filter(recipient__language=language).update(title=title, body="", body_html="")


@transaction.atomic
def erase_person(request: PrivacyRequest) -> dict[str, int]:
    """Anonymise `request.subject` everywhere; the request must have been approved."""
    user = User.objects.select_for_update().get(pk=request.subject_id)
    pk = user.pk
    names = identifiers(user)
    email = (user.email or "").strip()
    label = erased_name(pk)
    counts: dict[str, int] = {}
    with audit.muted():
        tickets = Ticket.objects.filter(requester=user)
        ticket_ids = list(tickets.values_list("pk", flat=True))
        counts["tickets"] = tickets.update(subject=f"Request from {label}",
                                           description=ERASED_TEXT)
        # Their subject and description live on in the trail of changes and in notices
        # that quote them; the events stay (who did what, when), the text goes.
        TicketEvent.objects.filter(ticket_id__in=ticket_ids).filter(
            models.Q(field__in=["subject", "description"]) | models.Q(actor=user)
            | models.Q(kind="created")).update(before="", after="", note=ERASED_TEXT)
        counts["custom_values"] = _erase_custom_values(pk, ticket_ids)
        for chunk in _chunks(ticket_ids):  # bounded SQL for someone with many tickets
            about_them = models.Q(pk__in=[])
            for ticket_id in chunk:
                about_them |= models.Q(url__regex=rf"/tickets?/{ticket_id}(/|$|[?#])")
            _retitle_notifications(Notification.objects.filter(about_them), label)
        own = Message.objects.filter(author=user)
        for attachment in Attachment.objects.filter(message__in=own):
            _delete_file(attachment.file)
        counts["attachments"] = Attachment.objects.filter(message__in=own).delete()[0]
        counts["messages"] = own.update(body=ERASED_TEXT)

        inbound = InboundMessage.objects.filter(
            models.Q(ticket__requester=user) | models.Q(ticket_message__author=user)
            | (models.Q(from_address__iexact=email) if email else models.Q(pk__in=[])))
        for item in inbound.exclude(raw=""):
            _delete_file(item.raw)
        for item in inbound.only("pk"):
            # Message-IDs are made by the sender's client and may carry their address.
            InboundMessage.objects.filter(pk=item.pk).update(
                message_id=f"erased-{item.pk}@erased.invalid")
        counts["raw_emails"] = inbound.update(raw="", from_address="", subject=ERASED_TEXT,
                                              reason="")
        for item in _quarantined_mentions(names):
            _delete_file(item.raw)
            item.delete()
        outbound = OutboundEmail.objects.filter(
            models.Q(ticket_id__in=ticket_ids)
            | ((models.Q(recipient__iexact=email) | models.Q(to__icontains=email))
               if email else models.Q(pk__in=[])))
        for chunk in _chunks(ticket_ids):  # staff notification e-mails say "[#N] ..."
            staff_mail = models.Q(pk__in=[])
            for ticket_id in chunk:
                staff_mail |= models.Q(ticket=None, subject__startswith=f"[#{ticket_id}] ")
            OutboundEmail.objects.filter(staff_mail).update(
                subject=f"About a ticket of {label}", context={})
        counts["mail_logs"] = outbound.update(to="", recipient="", subject=ERASED_TEXT,
                                              context={}, in_reply_to="", references="")
        if email:
            BounceMark.objects.filter(models.Q(user=user) | models.Q(address__iexact=email)
                                      ).delete()
            HeldEmail.objects.filter(address__iexact=email).delete()
        CustomerMailPreference.objects.filter(user=user).delete()

        counts["surveys"] = Survey.objects.filter(requester=user).update(comment="")
        visits = Visit.objects.filter(user=user)
        counts["searches"] = SearchLog.objects.filter(visit__in=visits).update(
            query=ERASED_TEXT, refined_to="")
        visits.update(first_query="")
        ArticleVote.objects.filter(user=user).update(comment="")
        ArticleFlag.objects.filter(reporter=user).update(note="")
        counts["notifications"] = Notification.objects.filter(recipient=user).delete()[0]
        NotificationPreference.objects.filter(user=user).delete()

        for old in PrivacyRequest.objects.filter(subject=user).exclude(file=""):
            name = old.file
            transaction.on_commit(lambda name=name: default_storage.delete(name))
        PrivacyRequest.objects.filter(subject=user).exclude(file="").update(file="")
        from django_otp.plugins.otp_static.models import StaticDevice
        from django_otp.plugins.otp_totp.models import TOTPDevice
        from rest_framework.authtoken.models import Token

        Token.objects.filter(user=user).delete()
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        store = import_module(settings.SESSION_ENGINE).SessionStore
        for session in Session.objects.iterator(chunk_size=500):
            if str(session.get_decoded().get("_auth_user_id")) == str(pk):
                # Through the engine: a cached_db session lives in the cache as well.
                store(session_key=session.session_key).delete()

        user.username = f"erased-user-{pk}"
        user.first_name, user.last_name = "Erased user", f"#{pk}"
        user.email = ""
        user.is_active = False
        user.is_org_admin = False
        user.set_unusable_password()
        user.save()
        counts["swept_rows"] = sweep(names, label)

    AuditEntry.objects.create(
        actor=request.approved_by, actor_label=f"user #{request.approved_by_id}",
        action=AuditEntry.Action.ERASE, model="helpdesk.User", object_id=str(pk),
        object_repr=f"user #{pk}",
        changes={"erased": [None, True], "requested_by": [None, request.requested_by_id],
                 "approved_by": [None, request.approved_by_id],
                 **{k: [None, v] for k, v in counts.items()}})
    return counts

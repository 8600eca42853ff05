"""Audit of configuration and people: one append-only log with field-level before and after.

A registry of audited models (by label, so the kernel imports no app above it) is watched
through model signals: `pre_save` reads the stored row, `post_save` and `post_delete` write
one `AuditEntry` with the fields that changed. Admin pages, services, the API and the shell
are all covered, without any code in their admin.py files. The actor comes from the request
(see `AuditActorMiddleware`) or from `acting_as(user)` around a service call.
"""
from __future__ import annotations

import contextvars
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import models
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.http import HttpRequest, HttpResponse
from django.utils import translation

# What "policies and people" means here. Other apps may add theirs with `register`.
DEFAULT_AUDITED: dict[str, tuple[str, ...] | None] = {
    # SLA calendars, policies, targets and escalation levels
    "sla.Calendar": None, "sla.BusinessHours": None, "sla.Holiday": None,
    "sla.Policy": None, "sla.Target": None, "sla.TierMultiplier": None,
    "sla.Override": None, "sla.Level": None,
    # routing and intake
    "tickets.Trigger": None, "tickets.Automation": None, "helpdesk.Team": None,
    # roles and team membership
    "auth.Group": None, "helpdesk.Membership": None,
    # QA scorecards
    "qa.Scorecard": None, "qa.Dimension": None, "qa.RubricLevel": None,
    "qa.AutoFailItem": None, "qa.ChecklistItem": None,
    # incident severities and their escalation
    "incidents.Severity": None, "incidents.EscalationStep": None,
    # mailboxes and what staff and customers are told
    "mailgate.Mailbox": None, "mailgate.TeamSender": None, "helpdesk.NoticeTemplate": None,
    # people: activation and privileges, never the password or the last sign-in
    "helpdesk.User": ("is_active", "is_staff", "is_superuser", "organization",
                      "is_org_admin"),
    "helpdesk.Organization": ("name", "domain", "support_tier", "csm", "staff_sso_only"),
    # second factors: enrolled, confirmed, removed (never the key)
    "otp_totp.TOTPDevice": ("user", "name", "confirmed"),
    "otp_static.StaticDevice": ("user", "name", "confirmed"),
    "privacy.RetentionPolicy": None, "privacy.LegalHold": None,
}
# Never copied into the log, whatever the registry says.
SECRET_FIELDS = {"password", "imap_password", "smtp_password", "secret", "key", "token"}
# Rows whose text is a person's name are shown by number, so erasure leaves no trace here.
NUMBERED_REPR = {"helpdesk.User"}


@dataclass
class _Audited:
    fields: tuple[str, ...] | None
    m2m: list[str] = field(default_factory=list)


_registry: dict[type[models.Model], _Audited] = {}
_actor: contextvars.ContextVar[Any] = contextvars.ContextVar("audit_actor", default=None)
_muted: contextvars.ContextVar[bool] = contextvars.ContextVar("audit_muted", default=False)


def register(label: str, fields: tuple[str, ...] | None = None) -> None:
    """Audit every save and delete of `app_label.Model` (only `fields`, if given)."""
    try:
        model = apps.get_model(label)
    except LookupError:
        return  # an app that is not installed
    _registry[model] = _Audited(fields=fields)
    uid = f"helpdesk.audit.{label}"
    pre_save.connect(_remember_before, sender=model, dispatch_uid=f"{uid}.pre")
    post_save.connect(_record_save, sender=model, dispatch_uid=f"{uid}.post")
    post_delete.connect(_record_delete, sender=model, dispatch_uid=f"{uid}.delete")
    for m2m in model._meta.many_to_many:
        if fields is not None and m2m.name not in fields and label != "helpdesk.User":
            continue
        if label == "helpdesk.User" and m2m.name != "groups":
            continue  # roles are the groups; skills and permissions are not audited
        _registry[model].m2m.append(m2m.name)
        m2m_changed.connect(_m2m_recorder(model, m2m.name),
                            sender=getattr(model, m2m.name).through,
                            dispatch_uid=f"{uid}.m2m.{m2m.name}", weak=False)


def register_defaults() -> None:
    for label, fields in DEFAULT_AUDITED.items():
        register(label, fields)


def audited_models() -> list[type[models.Model]]:
    return list(_registry)


@contextmanager
def acting_as(user: Any) -> Iterator[None]:
    """Attribute the changes made inside to `user` (a service, a task, a command)."""
    token = _actor.set(user)
    try:
        yield
    finally:
        _actor.reset(token)


@contextmanager
def muted() -> Iterator[None]:
    """No entries inside (erasure rewrites people and writes its own single entry)."""
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)


class AuditActorMiddleware:
    """Whoever is signed in is the actor of the changes their request makes."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _actor.set(request)  # resolved lazily: request.user is a lazy object
        try:
            return self.get_response(request)
        finally:
            _actor.reset(token)


def _current_actor() -> Any:
    actor = _actor.get()
    if isinstance(actor, HttpRequest):
        actor = getattr(actor, "user", None)
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None
    return actor


def _label(model: type[models.Model]) -> str:
    return f"{model._meta.app_label}.{model.__name__}"


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    try:
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return str(value)


def _snapshot(instance: models.Model, wanted: tuple[str, ...] | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in instance._meta.concrete_fields:
        if f.primary_key or f.name in SECRET_FIELDS:
            continue
        if wanted is not None and f.name not in wanted:
            continue
        if getattr(f, "auto_now", False):
            continue  # changes on every save: noise, not a change anyone made
        values[f.name] = _plain(getattr(instance, f.attname))
    return values


def _repr(instance: models.Model) -> str:
    label = _label(type(instance))
    # Stored: the English labels (verbose names, choices), whatever the actor's language.
    with translation.override(None):
        if label in NUMBERED_REPR:
            return f"{instance._meta.verbose_name} #{instance.pk}"
        return str(instance)[:200]


def _write(instance: models.Model, action: str, changes: dict[str, list[Any]]) -> None:
    from .models import AuditEntry

    actor = _current_actor()
    AuditEntry.objects.create(
        actor=actor, actor_label=(f"user #{actor.pk}" if actor else "system"),
        action=action, model=_label(type(instance)), object_id=str(instance.pk),
        object_repr=_repr(instance), changes=changes,
    )


def _remember_before(sender: type[models.Model], instance: models.Model, raw: bool = False,
                     update_fields: Any = None, **kwargs: Any) -> None:
    if raw or _muted.get():
        return
    spec = _registry[sender]
    if update_fields is not None and spec.fields is not None and \
            not set(update_fields) & set(spec.fields):
        instance._audit_before = None  # e.g. last_login: nothing audited changes
        return
    before = None
    if instance.pk is not None:
        stored = sender._default_manager.filter(pk=instance.pk).first()
        before = _snapshot(stored, spec.fields) if stored is not None else None
    instance._audit_before = before


def _record_save(sender: type[models.Model], instance: models.Model, created: bool,
                 raw: bool = False, update_fields: Any = None, **kwargs: Any) -> None:
    if raw or _muted.get() or not hasattr(instance, "_audit_before"):
        return
    before = instance.__dict__.pop("_audit_before")
    if before is None and not created:
        return
    after = _snapshot(instance, _registry[sender].fields)
    if created:
        changes = {k: [None, v] for k, v in after.items()}
    else:
        changes = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
        if not changes:
            return
    _write(instance, "create" if created else "change", changes)


def _record_delete(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    if _muted.get():
        return
    before = _snapshot(instance, _registry[sender].fields)
    _write(instance, "delete", {k: [v, None] for k, v in before.items()})


def _m2m_recorder(model: type[models.Model], name: str) -> Callable[..., None]:
    def record(sender: Any, instance: models.Model, action: str, reverse: bool,
               model: type[models.Model], pk_set: set[int] | None, **kwargs: Any) -> None:
        if _muted.get() or reverse:
            return  # a change made from the other side (group.user_set) is rare: skipped
        if action == "pre_clear":
            instance._audit_m2m_cleared = sorted(
                getattr(instance, name).values_list("pk", flat=True))
            return
        if action not in ("post_add", "post_remove", "post_clear"):
            return
        if action == "post_clear":
            removed = instance.__dict__.pop("_audit_m2m_cleared", [])
            if not removed:
                return
            names = sorted(str(o) for o in model._default_manager.filter(pk__in=removed))
            changes = {name: [names, []]}
        else:
            names = sorted(str(o) for o in model._default_manager.filter(pk__in=pk_set or []))
            if not names:
                return
            changes = {name: [[], names] if action == "post_add" else [names, []]}
        _write(instance, "change", changes)

    return record

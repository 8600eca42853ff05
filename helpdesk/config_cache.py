"""Configuration that rarely changes (intake rules, SLA policies and targets, default
team...), held in each process and dropped when a row of it is saved or deleted.

Every write path reads these tables, so each write paid a handful of queries for rows
an admin edits a few times a year. A process keeps what it loaded under a token kept in
Django's cache (Redis in production, shared by every process): a change anywhere
replaces the token, so every process reloads on its next read. Checking it is one
cache read, no query. The token is random (not a counter), so a cache cleared or
restarted never makes an old copy look current.
"""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.core.cache import cache
from django.db import transaction
from django.db.models import Model
from django.db.models.signals import m2m_changed, post_delete, post_save

TOKEN_KEY = "helpdesk:config-token"
T = TypeVar("T")

_lock = threading.Lock()
_held: dict[str, tuple[str, Any, float]] = {}
#: Seconds a copy is trusted at most: bounds the life of one read inside a transaction
#: that changed configuration and then rolled back.
MAX_AGE = 300.0


def _token() -> str:
    token = cache.get(TOKEN_KEY)
    if token is None:
        token = uuid.uuid4().hex
        # add(): of two processes starting at once, the first token wins.
        if not cache.add(TOKEN_KEY, token, None):
            token = cache.get(TOKEN_KEY) or token
    return token


def version() -> str:
    """The configuration's current version (changes whenever any of it does): part of the
    key of a cached fragment that shows configuration."""
    return _token()


def get(name: str, load: Callable[[], T]) -> T:
    """The value `load()` returns, loaded once per process until the configuration
    changes (or MAX_AGE passes). The value is shared: callers must not change it."""
    token = _token()
    held = _held.get(name)
    now = time.monotonic()
    if held is not None and held[0] == token and now - held[2] < MAX_AGE:
        return held[1]
    value = load()
    with _lock:
        _held[name] = (token, value, now)
    return value


def forget(**kwargs: Any) -> None:
    """Drop every held copy, here and (through the token) in every other process; again
    after commit, so nobody keeps a copy read before the change committed."""
    _renew()
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(_renew)


def _renew() -> None:
    _held.clear()
    cache.set(TOKEN_KEY, uuid.uuid4().hex, None)


def forget_on_change(models: Iterable[type[Model]], *, uid: str) -> None:
    """Connect `forget` to saves and deletes of these models and their many-to-many
    fields (called from the owning app's ready())."""
    for model in models:
        label = f"{uid}.{model._meta.label}"
        post_save.connect(forget, sender=model, dispatch_uid=f"{label}.save", weak=False)
        post_delete.connect(forget, sender=model, dispatch_uid=f"{label}.delete",
                            weak=False)
        for field in model._meta.many_to_many:
            m2m_changed.connect(forget, sender=field.remote_field.through,
                                dispatch_uid=f"{label}.{field.name}", weak=False)


def clear() -> None:
    """Drop this process's copies (tests, the benchmark's cold runs)."""
    _held.clear()

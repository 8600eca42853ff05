"""Queueing an outbound e-mail for the Celery worker.

The modules that write e-mails (outbound, notices) queue them here; the send task is
registered by `MailgateConfig.ready()`. They cannot import `mailgate.tasks` themselves:
the tasks import them to send, and design.md allows no import cycle.
"""
from __future__ import annotations

from typing import Any, Protocol

from django.db import transaction


class _Task(Protocol):
    def delay(self, *args: Any) -> Any: ...


_send_task: _Task | None = None


def register(task: _Task) -> None:
    """The task that sends one OutboundEmail row by id (mailgate.tasks)."""
    global _send_task
    _send_task = task


def _task() -> _Task:
    if _send_task is None:
        raise RuntimeError("mailgate's send task is not registered: is the app installed?")
    return _send_task


def enqueue(outbound_id: int) -> None:
    """Send the e-mail once the current transaction commits."""
    task = _task()
    transaction.on_commit(lambda: task.delay(outbound_id))


def enqueue_now(outbound_id: int) -> None:
    _task().delay(outbound_id)

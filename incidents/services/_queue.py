"""Queueing the incident jobs after commit. Only the sections that start jobs (declare,
updates) import this; the jobs call the sections below them (delivery, cascade,
reminders, links), so no module imports itself back through incidents.tasks."""
from __future__ import annotations

from django.db import transaction

from .. import tasks


def _after_commit(task_name: str, *args: int) -> None:
    """Queue a task of ours once the current transaction commits."""
    task = getattr(tasks, task_name)
    transaction.on_commit(lambda: task.delay(*args))

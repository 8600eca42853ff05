"""The beat schedule lives in one place (settings) and every job it names exists."""
from __future__ import annotations

import importlib

from django.conf import settings


def test_every_scheduled_job_is_a_registered_task():
    # 9 in settings + 9 in five beat.py before + 2 of privacy (issue 24) + the outbox
    # sweep and the export's change-log pruning (issue 21) + the webhook retry scan and log
    # pruning (issue 23) + the sync and nightly rebuild of the SLA dashboard's and the
    # casework dashboard's rollups (issue 20) + the automations' scan (issue 23) + the sync
    # and nightly rebuild of the capacity page's rollups (issue 20)
    assert len(settings.CELERY_BEAT_SCHEDULE) == 31
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        module, _, func = entry["task"].rpartition(".")
        task = getattr(importlib.import_module(module), func, None)
        assert task is not None and hasattr(task, "delay"), f"{name}: {entry['task']}"
        assert task.name == entry["task"], name


def test_no_app_keeps_a_schedule_of_its_own():
    from pathlib import Path

    root = Path(settings.BASE_DIR)
    assert sorted(p.parent.name for p in root.glob("*/beat.py")) == []

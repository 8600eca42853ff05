"""Periodic Celery jobs of the privacy app, merged into CELERY_BEAT_SCHEDULE by the settings.

A plain dict with no Django imports: the settings module loads it.
"""
SCHEDULE: dict = {
    # Retention in batches: a backlog drains over a few runs, a quiet day costs 3 queries.
    "privacy-apply-retention": {
        "task": "privacy.tasks.apply_retention",
        "schedule": 15 * 60.0,
        "options": {"expires": 14 * 60},
    },
    # Exports nobody downloaded in time are deleted.
    "privacy-expire-exports": {
        "task": "privacy.tasks.expire_exports",
        "schedule": 60 * 60.0,
        "options": {"expires": 55 * 60},
    },
}

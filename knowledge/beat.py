"""Periodic Celery jobs of the knowledge app, merged into CELERY_BEAT_SCHEDULE by the settings.

A plain dict with no Django imports: the settings module loads it.
"""
SCHEDULE: dict = {
    # Monday morning: owners hear which of their articles are past their review date.
    "knowledge-review-reminders": {
        "task": "knowledge.tasks.send_review_reminders",
        "schedule": 7 * 24 * 3600.0,
        "options": {"expires": 3600},
    },
    # Nightly: the spelling vocabulary forgets words no published article uses any more.
    "knowledge-search-vocabulary": {
        "task": "knowledge.tasks.rebuild_search_vocabulary",
        "schedule": 24 * 3600.0,
        "options": {"expires": 3600},
    },
}

"""Periodic Celery jobs of the incidents app, merged into CELERY_BEAT_SCHEDULE by the settings.

A plain dict with no Django imports: the settings module loads it.
"""
SCHEDULE: dict = {
    # Escalation steps, public-update reminders and review reminders due now; each fires
    # once (unique Fire rows), resolved incidents have no due time and cost nothing.
    "incidents-run-due": {
        "task": "incidents.tasks.run_due",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
}

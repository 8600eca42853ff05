"""Periodic Celery jobs of the casework app, merged into CELERY_BEAT_SCHEDULE by the settings.

A plain dict with no Django imports: the settings module loads it.
"""
from celery.schedules import crontab

SCHEDULE: dict = {
    # Monday 06:00 UTC: the voice-of-customer report of the week that just ended.
    "casework-weekly-voc-report": {
        "task": "casework.tasks.generate_weekly_voc_report",
        "schedule": crontab(minute=0, hour=6, day_of_week=1),
    },
}

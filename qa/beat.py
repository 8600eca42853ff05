"""Periodic Celery jobs of the qa app, merged into CELERY_BEAT_SCHEDULE by the settings.

A plain dict with no Django imports: the settings module loads it.
"""
from celery.schedules import crontab

SCHEDULE: dict = {
    # Monday 02:00: last week's QA sample (idempotent per week and scorecard).
    "qa-weekly-sample": {
        "task": "qa.tasks.sample_week",
        "schedule": crontab(minute=0, hour=2, day_of_week="mon"),
    },
    # Breached tickets are marked while their SLA level still shows it.
    "qa-sweep-sla-breaches": {
        "task": "qa.tasks.sweep_sla_breaches",
        "schedule": 10 * 60.0,
        "options": {"expires": 9 * 60},
    },
}

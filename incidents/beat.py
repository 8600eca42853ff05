"""Periodic Celery jobs of the incidents app, merged into CELERY_BEAT_SCHEDULE by the settings.

A plain dict with no Django imports: the settings module loads it.
"""
SCHEDULE: dict = {}

"""Settings for the Celery worker and beat processes the reliability tests start.

The test settings, with real (not eager) tasks on a private Redis, e-mail over SMTP to
the test's sink, a short Redis visibility timeout (so a message held by a worker that
was killed is delivered again within seconds, not the default hour) and, for beat,
only the periodic jobs under test on a short period.
"""
import os

from helpdesk.settings_test import *  # noqa: F403

CELERY_TASK_ALWAYS_EAGER = False
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_TIMEOUT = 10
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("RELIABILITY_VISIBILITY_TIMEOUT", "4")),
    # Look for such messages every second (kombu's default: every 10 s × 10 calls).
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
    # The restore runs under a Redis lock; a worker killed while holding it would block
    # every restore for kombu's default 5 minutes, longer than any wait here.
    "unacked_mutex_expire": 5,
}
# Reconnect quickly after a Redis restart.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None

_period = float(os.environ.get("RELIABILITY_BEAT_SECONDS", "1"))
_all_jobs = CELERY_BEAT_SCHEDULE  # noqa: F405
CELERY_BEAT_SCHEDULE = {
    name: {**entry, "schedule": _period, "options": {"expires": 30}}
    for name, entry in _all_jobs.items()
    if name in ("sla-scan-due-clocks", "surveys-send-due",
                "workforce-escalate-unacknowledged-pages")
}
# As in production, notification e-mails whose task never reached the broker (a scan
# committed while Redis was down: the after-commit queueing fails) are queued again by
# beat; here after 6 s instead of 5 minutes. Sends are once whatever the copies.
CELERY_BEAT_SCHEDULE["notifications-requeue-unsent-email"] = {
    **_all_jobs["notifications-requeue-unsent-email"],
    "schedule": _period, "kwargs": {"older_than_minutes": 0.1}, "options": {"expires": 30},
}

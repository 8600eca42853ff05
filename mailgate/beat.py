"""Periodic Celery jobs of the mailgate app, merged into CELERY_BEAT_SCHEDULE by the settings.

A plain dict with no Django imports: the settings module loads it.
"""
SCHEDULE: dict = {
    # Fetch new mail of every active IMAP mailbox; a run queued while workers were down
    # is dropped after a minute (the next one continues from the stored last UID).
    "mailgate-poll-mailboxes": {
        "task": "mailgate.tasks.poll_mailboxes",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Replies whose send task was lost (broker down when queued, Redis restarted empty
    # under a pending retry): queued again; a send happens once whatever the copies.
    "mailgate-requeue-stalled-outbound": {
        "task": "mailgate.tasks.requeue_stalled_outbound",
        "schedule": 5 * 60.0,
        "options": {"expires": 4 * 60},
    },
    # Reminders to customers a ticket waits on, then the automatic resolution: scans the
    # indexed next-due column; each step is recorded, so a rerun sends nothing twice.
    "mailgate-scan-waiting-tickets": {
        "task": "mailgate.tasks.scan_waiting_tickets",
        "schedule": 10 * 60.0,
        "options": {"expires": 9 * 60},
    },
}

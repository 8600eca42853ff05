"""Constants and small helpers shared by the QA services."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from tickets.state_machine import Status

SOURCE = "qa.review"
LOW_CSAT_MAX = 2  # survey ratings 1–2 flag a ticket for review
SLA_BREACH_LEVELS = ("breach", "severe")  # Ticket.sla_level colours written by the sla app
DONE_STATUSES = (Status.RESOLVED.value, Status.CLOSED.value)
DEFAULT_CALIBRATION_TICKETS = 3


def _now() -> datetime:
    return timezone.now()

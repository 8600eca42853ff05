"""SLA engine: calendars, policies, per-ticket clocks and escalation."""

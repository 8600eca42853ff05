"""Tickets: lifecycle, conversation, routing, audit trail, agent workspace and portal."""

"""The words of an SLA level colour as a template tag (the queue shows them per row; the
words live with the column they describe, tickets.sla_levels)."""
from __future__ import annotations

from django import template

from tickets.sla_levels import sla_level_label

register = template.Library()
register.simple_tag(sla_level_label, name="sla_level_label")

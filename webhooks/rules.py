"""What webhooks adds to triggers and automations: call an endpoint (signed, retried,
logged in the delivery log like every event)."""
from __future__ import annotations

from typing import Any

from tickets.models import Ticket
from tickets.rules import registry
from tickets.rules.registry import Action

from .models import Endpoint, EventType
from .payloads import load_ticket, ticket_summary
from .publishing import send_to


def _endpoint(value: Any) -> Endpoint:
    name = str(value.get("endpoint") if isinstance(value, dict) else value or "").strip()
    endpoint = (Endpoint.objects.filter(name=name).first()
                or (Endpoint.objects.filter(pk=int(name)).first() if name.isdigit() else None))
    if endpoint is None:
        raise ValueError(f"no webhook endpoint named {name!r}")
    return endpoint


def call_webhook(ticket: Ticket, value: Any, fire: Any) -> str:
    endpoint = _endpoint(value)
    if not endpoint.is_active:
        raise ValueError(f"endpoint {endpoint.name!r} is disabled")
    rule = {"kind": "trigger" if fire.rule._meta.model_name == "trigger" else "automation",
            "id": fire.rule.pk, "name": fire.rule.name}
    ticket_id = ticket.pk

    def build() -> dict | None:
        current = load_ticket(ticket_id)
        return None if current is None else {"ticket": ticket_summary(current), "rule": rule}

    send_to(endpoint.pk, EventType.RULE_FIRED, build, key=fire.key, occurred_at=fire.now)
    return f"webhook {endpoint.name}"


def register() -> None:
    registry.register_action(Action(
        "call_webhook", "Call a webhook endpoint (its name): event ticket.rule_fired",
        call_webhook))

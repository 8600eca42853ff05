"""What mailgate adds to triggers and automations: e-mail the requester from a template
(the notice path: team wording, threaded on the ticket's mail, once per firing)."""
from __future__ import annotations

from typing import Any

from tickets.models import Ticket
from tickets.rules import registry
from tickets.rules.registry import Action

from . import notices

#: Notices a rule may send (incident updates and replies have their own paths).
RULE_NOTICES = sorted(k for k in notices.TOPICS
                      if k not in ("customer.reply", "customer.incident_update"))


def _spec(value: Any) -> tuple[str, str]:
    spec = value if isinstance(value, dict) else {"template": value}
    template = str(spec.get("template") or "customer.update")
    if template not in RULE_NOTICES:
        raise ValueError(f"template is one of {', '.join(RULE_NOTICES)}")
    return template, str(spec.get("text") or "")


def _validate(value: Any) -> None:
    _spec(value)


def email_requester(ticket: Ticket, value: Any, fire: Any) -> str:
    template, text = _spec(value)
    context = {"update_text": text} if text else {}
    sent = notices.queue_ticket_notice(template, ticket.pk, at=fire.now, actor_id=None,
                                       context=context, tell_actor=True,
                                       suffix=f":{fire.key}"[:40])
    return f"e-mailed the requester ({template})" if sent else ""


def register() -> None:
    registry.register_action(Action(
        "email_requester",
        "E-mail the requester from a template: {\"template\": \"customer.update\", "
        "\"text\": \"...\"} (templates: " + ", ".join(RULE_NOTICES) + ")",
        email_requester, validate=_validate))

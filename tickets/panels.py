"""Panels other apps add to the agent ticket page, without `tickets` knowing them.

An app registers in its AppConfig.ready():

    panels.register(Panel("sla", "sla/panel.html", context=sla_context, order=10))

`context(ticket, request)` returns the template context, or None to hide the panel.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

ContextFn = Callable[[Any, HttpRequest], dict[str, Any] | None]


@dataclass(frozen=True)
class Panel:
    name: str
    template: str
    context: ContextFn
    order: int = 100
    # "main" sits above the conversation; "side" in the right-hand column.
    area: str = "side"


_registry: dict[str, Panel] = {}


def register(panel: Panel) -> None:
    _registry[panel.name] = panel


def unregister(name: str) -> None:
    _registry.pop(name, None)


def render_panels(ticket: Any, request: HttpRequest, *, area: str) -> list[SafeString]:
    out = []
    for panel in sorted(_registry.values(), key=lambda p: (p.order, p.name)):
        if panel.area != area:
            continue
        ctx = panel.context(ticket, request)
        if ctx is not None:
            out.append(render_to_string(panel.template, {"ticket": ticket, **ctx}, request))
    return out

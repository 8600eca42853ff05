"""Template context shared by every page."""
from functools import cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

# The links of the top bar, by name in the template (`nav.queues`): reversed once per
# process, since every page shows them and a {% url %} tag costs a reverse() each time.
NAV = {
    "home": ("home", {}), "help": ("knowledge:home", {}),
    "queues": ("agent:queue", {"name": "mine"}), "new_ticket": ("agent:new_ticket", {}),
    "approaching": ("sla:approaching", {}), "sla": ("sla:dashboard", {}),
    "metrics": ("metrics:mine", {}), "schedules": ("workforce_schedules:index", {}),
    "oncall": ("workforce_oncall:rotations", {}), "incidents": ("incidents:list", {}),
    "capacity": ("workforce_capacity:dashboard", {}), "qa": ("qa:index", {}),
    "casework": ("casework:index", {}), "admin": ("admin:index", {}),
    "api": ("api-docs", {}), "my_requests": ("portal:tickets", {}),
    "submit": ("portal:new_ticket", {}), "logout": ("logout", {}), "login": ("login", {}),
    "signup": ("signup", {}), "notifications": ("notifications:list", {}),
    "bell": ("notifications:bell", {}), "queue_nav": ("agent:queue_nav", {}),
}


@cache
def nav_urls() -> dict[str, str]:
    return {key: reverse(name, kwargs=kwargs) for key, (name, kwargs) in NAV.items()}


def roles(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    is_agent = bool(user and user.is_authenticated and user.is_agent)
    return {"is_agent": is_agent, "nav": nav_urls(),
            "bell_poll_seconds": settings.NOTIFICATION_POLL_SECONDS}

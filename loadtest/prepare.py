"""Sign in the load-test users ahead of the run and write their credentials to a JSON file.

Usage: python loadtest/prepare.py OUT.json [--agents 40] [--customers 40] [--api 10]

Picks agents that have open tickets assigned, customers that have tickets, and opens a
server-side session for each (as a successful log-in would), plus API tokens. The load
test then measures the work people do once signed in: with Django's default password
hasher a log-in costs about half a CPU-second by design, which would otherwise dominate
a one-minute run on two cores.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--agents", type=int, default=40)
    parser.add_argument("--customers", type=int, default=40)
    parser.add_argument("--api", type=int, default=10)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.db.models import Count
    from rest_framework.authtoken.models import Token

    from helpdesk.models import User
    from helpdesk.roles import Role
    from tickets.models import Ticket
    from tickets.state_machine import Status

    open_statuses = [s.value for s in Status if s.value not in ("resolved", "closed")]
    agent_ids = list(
        Ticket.objects.filter(status__in=open_statuses, assignee__isnull=False,
                              assignee__is_active=True, assignee__groups__name=Role.AGENT)
        .values("assignee_id").annotate(n=Count("pk")).order_by("-n")
        .values_list("assignee_id", flat=True)[: args.agents + args.api])
    customer_ids = list(
        Ticket.objects.filter(status__in=open_statuses, requester__is_active=True,
                              requester__groups__name=Role.CUSTOMER)
        .order_by("-updated_at").values_list("requester_id", flat=True)[:5000])
    customer_ids = list(dict.fromkeys(customer_ids))[: args.customers + args.api]
    if len(agent_ids) < args.agents or len(customer_ids) < args.customers:
        sys.exit(f"not enough seeded people: {len(agent_ids)} agents, "
                 f"{len(customer_ids)} customers")
    users = User.objects.in_bulk(agent_ids + customer_ids)
    backend = settings.AUTHENTICATION_BACKENDS[0]

    def session_for(user: User) -> str:
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = backend
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.set_expiry(6 * 3600)
        store.create()
        return store.session_key

    def token_for(user: User) -> str:
        return Token.objects.get_or_create(user=user)[0].key

    accounts = {
        "agents": [session_for(users[pk]) for pk in agent_ids[: args.agents]],
        "customers": [session_for(users[pk]) for pk in customer_ids[: args.customers]],
        "api_agents": [token_for(users[pk]) for pk in agent_ids[args.agents:]],
        "api_customers": [token_for(users[pk]) for pk in customer_ids[args.customers:]],
    }
    Path(args.out).write_text(json.dumps(accounts))
    print(f"prepared {len(accounts['agents'])} agent and {len(accounts['customers'])} "
          f"customer sessions, {len(accounts['api_agents'])} + "
          f"{len(accounts['api_customers'])} API tokens")


if __name__ == "__main__":
    main()

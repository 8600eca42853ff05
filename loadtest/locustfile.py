"""A realistic mix for the helpdesk: agents working queues, customers in the portal and
help center, API clients. Run through `scripts/loadtest.sh` (which prepares the accounts).

Environment:
    LOADTEST_ACCOUNTS  JSON from loadtest/prepare.py (session keys and API tokens)

Every simulated person is already signed in (a session cookie from prepare.py) and comes
from their own client address (X-Forwarded-For, with the app trusting one proxy as behind
a reverse proxy in production), so per-address limits see separate people. Requests are
grouped under stable names ("queue page", "ticket page", ...) for the report.
"""
from __future__ import annotations

import itertools
import json
import os
import random
import re
import secrets
import string

from locust import HttpUser, between, task

ACCOUNTS = json.loads(open(os.environ["LOADTEST_ACCOUNTS"]).read())  # noqa: SIM115, PTH123
_next = {kind: itertools.count() for kind in ACCOUNTS}
_address = itertools.count(1)

AGENT_TICKET = re.compile(r'href="/agent/tickets/(\d+)/"')
PORTAL_TICKET = re.compile(r'href="/portal/tickets/(\d+)/"')
QUEUES = ["mine", "mine", "teams", "teams", "unassigned", "open"]
SEARCHES = ["password reset", "export csv", "invoice", "sso login", "api token", "vpn",
            "billing", "two factor", "webhook", "slow dashboard"]
SUBJECTS = ["Export to CSV fails", "Cannot reset my password", "Invoice shows wrong VAT",
            "SSO login loops", "API returns 502", "Dashboard is slow"]


def take(kind: str) -> str:
    values = ACCOUNTS[kind]
    return values[next(_next[kind]) % len(values)]


class Person(HttpUser):
    abstract = True
    wait_time = between(1, 3)  # think time between actions

    def on_start(self) -> None:
        n = next(_address)
        address = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
        self.client.headers["X-Forwarded-For"] = address
        # The CSRF cookie the server sets is Secure (production settings) and would not
        # come back over plain HTTP: the client brings its own, as Django allows.
        self.csrf = "".join(secrets.choice(string.ascii_letters + string.digits)
                            for _ in range(32))
        self.client.cookies.set("csrftoken", self.csrf)

    def sign_in(self, kind: str) -> None:
        self.client.cookies.set("sessionid", take(kind))

    def post_form(self, url: str, data: dict, *, name: str, htmx: bool = False):
        headers = {"X-CSRFToken": self.csrf, "Referer": f"{self.host}{url}"}
        if htmx:
            headers["HX-Request"] = "true"
        return self.client.post(url, data={**data, "csrfmiddlewaretoken": self.csrf},
                                headers=headers, name=name)


class AgentUser(Person):
    """Pages through queues (full page and htmx), opens tickets, replies now and then."""

    weight = 5

    def on_start(self) -> None:
        super().on_start()
        self.sign_in("agents")
        self.tickets: list[str] = []

    @task(6)
    def queue_page(self) -> None:
        name = random.choice(QUEUES)
        response = self.client.get(f"/agent/queue/{name}/", name="queue page")
        found = AGENT_TICKET.findall(response.text or "")
        if found:
            self.tickets = found

    @task(2)
    def next_queue_page(self) -> None:
        self.client.get(f"/agent/queue/{random.choice(QUEUES)}/?page=2",
                        headers={"HX-Request": "true"}, name="queue page (htmx, page 2)")

    @task(4)
    def open_ticket(self) -> None:
        if not self.tickets:
            return self.queue_page()
        pk = random.choice(self.tickets)
        self.client.get(f"/agent/tickets/{pk}/", name="ticket page")

    @task(1)
    def reply(self) -> None:
        if not self.tickets:
            return self.queue_page()
        pk = random.choice(self.tickets)
        public = random.random() < 0.5
        self.post_form(f"/agent/tickets/{pk}/reply/", {
            "body": "Thanks for the details, we are looking into it.",
            "visibility": "public" if public else "note",
        }, name="reply", htmx=True)


class CustomerUser(Person):
    """Lists and reads their requests, searches the help center, files new requests."""

    weight = 4

    def on_start(self) -> None:
        super().on_start()
        self.sign_in("customers")
        self.tickets: list[str] = []

    @task(4)
    def my_tickets(self) -> None:
        response = self.client.get("/portal/", name="portal: my tickets")
        self.tickets = PORTAL_TICKET.findall(response.text or "") or self.tickets

    @task(2)
    def read_ticket(self) -> None:
        if not self.tickets:
            return self.my_tickets()
        self.client.get(f"/portal/tickets/{random.choice(self.tickets)}/",
                        name="portal: ticket page")

    @task(3)
    def search_help(self) -> None:
        self.client.get("/help/search/", params={"q": random.choice(SEARCHES)},
                        name="help center search")

    @task(1)
    def file_ticket(self) -> None:
        self.client.get("/portal/tickets/new/", name="portal: new ticket form")
        self.post_form("/portal/tickets/new/", {
            "subject": random.choice(SUBJECTS),
            "description": "Since this morning it fails every time. Steps: open, click, wait.",
        }, name="portal: file ticket")


class ApiUser(HttpUser):
    """Integrations: agents' scripts list and read tickets, customers' file them."""

    weight = 1
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.agent_token = take("api_agents")
        self.customer_token = take("api_customers")
        self.ids: list[int] = []

    def auth(self, token: str) -> dict:
        return {"Authorization": f"Token {token}"}

    @task(4)
    def list_tickets(self) -> None:
        response = self.client.get("/api/v1/tickets/", params={"status": "new"},
                                   headers=self.auth(self.agent_token), name="api: list")
        if response.ok:
            self.ids = [t["id"] for t in response.json().get("results", [])] or self.ids

    @task(3)
    def read_ticket(self) -> None:
        if not self.ids:
            return self.list_tickets()
        self.client.get(f"/api/v1/tickets/{random.choice(self.ids)}/",
                        headers=self.auth(self.agent_token), name="api: ticket")

    @task(1)
    def create_ticket(self) -> None:
        self.client.post("/api/v1/tickets/", json={
            "subject": random.choice(SUBJECTS),
            "description": "Reported by our monitoring integration.",
        }, headers=self.auth(self.customer_token), name="api: create")

"""PostgreSQL drops the connection in the middle of a request that files a ticket.

The request runs on a real WSGI server (pytest-django's live server, so Django's
request_started/finished connection handling is the production one). Half-way through
`tickets.services.create_ticket` - after the ticket row was inserted, before the
transaction commits - the backend serving the request is terminated, as a PostgreSQL
restart or a failover would. Expected: the request fails with a server error page that
gives nothing away, no half-made ticket is left behind, and the very next request on
the same server process succeeds on a fresh connection.
"""
from __future__ import annotations

import threading

import pytest
import requests
from django.db import connection
from rest_framework.authtoken.models import Token

from helpdesk.roles import Role
from tests.factories import make_org, make_user
from tickets.models import Ticket
from tickets.rules import engine as rule_engine

from .conftest import needs_postgresql

pytestmark = [pytest.mark.django_db(transaction=True), needs_postgresql]


@pytest.fixture
def drop_connection_once(monkeypatch):
    """The first ticket whose creation triggers run in the server thread loses its backend."""
    real = rule_engine.on_create
    state = {"dropped": False}

    def on_create(ticket, **kwargs):
        result = real(ticket, **kwargs)
        if not state["dropped"] and threading.current_thread() is not threading.main_thread():
            state["dropped"] = True
            with connection.cursor() as cursor:  # the request's own connection
                cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return result

    monkeypatch.setattr(rule_engine, "on_create", on_create)
    return state


@pytest.fixture
def customer(transactional_db):
    return make_user(Role.CUSTOMER, org=make_org(), username="carol")


def assert_clean_failure(response: requests.Response) -> None:
    """503 with Retry-After (DatabaseUnavailableMiddleware): the client may retry, nothing
    was saved, and nothing about the database is in it."""
    assert response.status_code == 503, response.status_code
    assert response.headers["Retry-After"] == "5"
    assert "nothing was saved" in response.text
    for leak in ("Traceback", "OperationalError", "terminating connection", "psycopg",
                 "pg_terminate_backend"):
        assert leak not in response.text


def test_api_create_survives_a_dropped_connection(live_server, customer,
                                                  drop_connection_once):
    token = Token.objects.create(user=customer).key
    api = requests.Session()
    api.headers["Authorization"] = f"Token {token}"
    url = f"{live_server.url}/api/v1/tickets/"
    payload = {"subject": "Export fails", "description": "The CSV export stops at 10k rows."}

    failed = api.post(url, json=payload, timeout=30)
    assert drop_connection_once["dropped"]
    assert_clean_failure(failed)
    assert "try again" in failed.json()["detail"]
    assert not Ticket.objects.filter(requester=customer).exists()  # no partial ticket

    retried = api.post(url, json=payload, timeout=30)  # the client retries
    assert retried.status_code == 201, retried.text
    assert Ticket.objects.filter(requester=customer).count() == 1
    listed = api.get(url, timeout=30)
    assert listed.status_code == 200
    assert [t["subject"] for t in listed.json()["results"]] == ["Export fails"]


def test_portal_form_survives_a_dropped_connection(live_server, customer,
                                                   drop_connection_once):
    browser = requests.Session()
    login = f"{live_server.url}/accounts/login/"
    browser.get(login, timeout=30)
    signed_in = browser.post(login, data={
        "username": "carol", "password": "pw-Secret-123",
        "csrfmiddlewaretoken": browser.cookies["csrftoken"]}, headers={"Referer": login},
        timeout=30)
    assert signed_in.status_code == 200 and "/accounts/login/" not in signed_in.url

    form = f"{live_server.url}/portal/tickets/new/"
    browser.get(form, timeout=30)
    data = {"subject": "VPN drops", "description": "Every 10 minutes the VPN disconnects.",
            "csrfmiddlewaretoken": browser.cookies["csrftoken"]}
    failed = browser.post(form, data=data, headers={"Referer": form}, timeout=30)
    assert drop_connection_once["dropped"]
    assert_clean_failure(failed)
    assert not Ticket.objects.filter(requester=customer).exists()

    again = browser.post(form, data=data, headers={"Referer": form}, timeout=30)
    assert again.status_code == 200, again.status_code  # followed the redirect
    ticket = Ticket.objects.get(requester=customer)
    assert again.url.endswith(f"/portal/tickets/{ticket.pk}/")
    assert "VPN drops" in again.text

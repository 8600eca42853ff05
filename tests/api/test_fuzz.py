"""API fuzzing: every operation of the OpenAPI schema, fed generated input by Schemathesis.

For each operation and each of two callers (an agent and a customer, by token), a bounded
number of generated requests goes through the real WSGI application on the test database.
Every response must be a non-5xx whose status code is documented and whose body matches
the schema. The budget (examples per operation) is FUZZ_EXAMPLES, 12 by default.
"""
from __future__ import annotations

import os

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ..factories import make_ticket

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))


def _schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


schema = schemathesis.openapi.from_dict(_schema())
APP = WSGIHandler()


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Like Django's test client: the WSGI handler must not close the test transaction's
    connection at the end of each request."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def tokens(db, customer_a, agent, org_b, ticket_a, ticket_b):
    """A small world to aim at: tickets of two organisations and two tokens."""
    make_ticket(customer_a, subject="Second ticket")
    return {"agent": Token.objects.create(user=agent).key,
            "customer": Token.objects.create(user=customer_a).key}


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@pytest.mark.parametrize("who", ["agent", "customer"])
def test_every_operation_answers_within_its_schema(case, who, tokens):
    if case.path == "/api/v1/auth/token/":
        pytest.skip("log-in throttle: its own tests cover it")
    case.headers = {**(case.headers or {}), "Authorization": f"Token {tokens[who]}"}
    response = case.call(app=APP)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} answered {response.status_code}")
    # "No 5xx, every response matching the schema": documented status, content type,
    # headers and body. (Schemathesis' acceptance and auth heuristics are left out: a
    # 400 for a value the schema cannot express, such as an unknown team id, is right.)
    case.validate_response(response, checks=[
        not_a_server_error, status_code_conformance, content_type_conformance,
        response_headers_conformance, response_schema_conformance])

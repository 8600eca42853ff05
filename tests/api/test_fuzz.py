"""API fuzzing: every operation of the OpenAPI schema, fed generated input by Schemathesis.

As an outside tester would (issue 28), for each of two callers (an agent and a customer,
by token; the incremental export, which both are refused, also as a manager, who sees
every ticket), on whichever database the suite runs on (CI: PostgreSQL, then SQLite):

- the examples, coverage and fuzzing phases over every operation, with valid (positive)
  and invalid (negative) data: boundary values, ids past the database's range, wrong
  types, missing required fields, unexpected methods;
- the stateful phase: sequences that follow the schema's links (file a ticket, then read,
  change, reply to and move it; list, then open what was listed).

Every response must be a non-5xx whose status code, content type, headers and body are as
documented, and an invalid request must be refused with a 4xx. The budget is bounded so
CI stays fast: FUZZ_EXAMPLES examples per operation and phase (12 by default), and
FUZZ_SCENARIOS stateful scenarios of at most FUZZ_STEPS steps (20 and 6). The cases run
per role and database are counted and printed at the end of the session.

Documented false positives: Schemathesis' `negative_data_rejection` (an invalid request
must get a 4xx) is not applied to these coverage scenarios, because the API accepts them on
purpose; every other check still applies to them:
- a JSON body value of another scalar type (a number where a string is declared, "true"
  for a boolean): DRF reads it as form data would be read (0 is the text "0"), because
  the same serializers take multipart forms, where every value is text;
- a query parameter the operation does not declare: ignored, as HTTP allows;
- a single-valued query parameter given twice: the last value counts (Django's QueryDict);
- a query parameter given empty (`?created_before=`): the same as absent, as HTML forms
  send the fields left blank.
Also left out: Schemathesis' `positive_data_acceptance`, `ignored_auth` and the other auth
heuristics (a valid-looking request is rightly refused where the schema cannot say why: an
unknown team id is a 400, QA reviews are a 404 for customers, the state machine refuses a
move with 400), and `POST /api/v1/auth/token/`, whose throttle (10 failures a minute per
address) has its own tests and would turn most cases into 429s.
"""
from __future__ import annotations

import os
from collections import Counter

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections, connection
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import CoverageScenario
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ..factories import make_ticket

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
SCENARIOS = int(os.environ.get("FUZZ_SCENARIOS", "20"))
STEPS = int(os.environ.get("FUZZ_STEPS", "6"))
SKIPPED = {"/api/v1/auth/token/"}
EXPORT = "/api/v1/tickets/changes/"  # its throttle has its own tests (see the docstring)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]

# Cases run, by (role, database, phase); printed by tests/api/conftest.py.
CASES: Counter[tuple[str, str, str]] = Counter()

CONFIG = SchemathesisConfig.from_dict({
    "generation": {"mode": "all", "max-examples": EXAMPLES, "deterministic": True},
    "phases": {
        "examples": {"enabled": True},
        "coverage": {"enabled": True},
        "fuzzing": {"enabled": True},
        "stateful": {"enabled": True, "max-steps": STEPS},
    },
})
schema = schemathesis.openapi.from_dict(
    SchemaGenerator().get_schema(request=None, public=True), config=CONFIG,
).exclude(path=list(SKIPPED))
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
def tokens(db, customer_a, agent, manager, org_b, ticket_a, ticket_b):
    """A small world to aim at: tickets of two organisations and three tokens (the
    manager sees every ticket, so also gets the incremental export)."""
    make_ticket(customer_a, subject="Second ticket")
    return {"agent": Token.objects.create(user=agent).key,
            "manager": Token.objects.create(user=manager).key,
            "customer": Token.objects.create(user=customer_a).key}


def _authorize(case, token: str) -> None:
    case.headers = {**(case.headers or {}), "Authorization": f"Token {token}"}


def _count(case, who: str) -> None:
    phase = getattr(getattr(case.meta, "phase", None), "name", None) or "unknown"
    CASES[(who, connection.vendor, str(getattr(phase, "value", phase)))] += 1


# (coverage scenario, where) -> why the API accepts it on purpose (see the docstring).
FALSE_POSITIVES = {
    (CoverageScenario.INCORRECT_TYPE, ParameterLocation.BODY):
        "JSON scalars are read as form values: the serializers also take multipart",
    (CoverageScenario.OBJECT_UNEXPECTED_PROPERTIES, ParameterLocation.QUERY):
        "undeclared query parameters are ignored",
    (CoverageScenario.DUPLICATE_PARAMETER, ParameterLocation.QUERY):
        "a repeated single-valued query parameter takes its last value",
}


def _checks(case) -> list:
    data = case.meta.phase.data
    where = getattr(data, "parameter_location", None)
    scenario = (getattr(data, "scenario", None), where)
    empty = where == ParameterLocation.QUERY and \
        (case.query or {}).get(getattr(data, "parameter", None)) in ("", [""])
    if scenario in FALSE_POSITIVES or empty:
        return CHECKS
    return [*CHECKS, negative_data_rejection]


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@pytest.mark.parametrize("who", ["agent", "customer"])
def test_every_operation_answers_within_its_schema(case, who, tokens):
    _authorize(case, tokens[who])
    _count(case, who)
    response = case.call(app=APP)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} answered {response.status_code}")
    case.validate_response(response, checks=_checks(case))


@pytest.mark.django_db
@schema.include(path=EXPORT).parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_the_export_answers_a_manager_within_its_schema(case, tokens):
    """The incremental export is for those who see every ticket: the agent and customer
    above get its 403, a manager its pages."""
    _authorize(case, tokens["manager"])
    _count(case, "manager")
    response = case.call(app=APP)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} answered {response.status_code}")
    case.validate_response(response, checks=_checks(case))


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["agent", "customer"])
def test_stateful_sequences_answer_within_the_schema(who, tokens):
    """Links from the schema chain the calls: ids from one answer feed the next."""
    token = tokens[who]

    class Workflow(schema.as_state_machine()):
        def before_call(self, case) -> None:
            _authorize(case, token)
            _count(case, who)

        def get_call_kwargs(self, case) -> dict:
            return {"app": APP}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} answered {response.status_code}")
            case.validate_response(response, checks=_checks(case))

    Workflow.run(settings=settings(
        max_examples=SCENARIOS, deadline=None, derandomize=True, stateful_step_count=STEPS,
        suppress_health_check=list(HealthCheck)))

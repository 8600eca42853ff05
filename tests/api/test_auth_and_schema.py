"""Token authentication, its throttle, and the OpenAPI schema and docs."""
from __future__ import annotations

from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

TOKEN_URL = "/api/v1/auth/token/"


def test_obtain_a_token_and_use_it(customer_a, ticket_a):
    client = APIClient()
    response = client.post(TOKEN_URL, {"username": "alice", "password": "pw-Secret-123"},
                           format="json")
    assert response.status_code == 200
    key = response.json()["token"]
    assert Token.objects.get(user=customer_a).key == key

    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    tickets = client.get("/api/v1/tickets/")
    assert tickets.status_code == 200
    assert [t["id"] for t in tickets.json()["results"]] == [ticket_a.pk]
    assert client.get("/api/v1/users/me/").json()["username"] == "alice"


def test_wrong_password_gets_no_token(customer_a):
    response = APIClient().post(TOKEN_URL, {"username": "alice", "password": "nope"},
                                format="json")
    assert response.status_code == 400
    assert not Token.objects.exists()


def test_bad_token_is_refused(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get("/api/v1/tickets/").status_code in (401, 403)


def test_token_endpoint_is_throttled(settings, customer_a):
    settings.HELPDESK_LOGIN_ATTEMPTS_PER_MINUTE = 3
    client = APIClient()
    codes = [client.post(TOKEN_URL, {"username": "alice", "password": "guess"},
                         format="json").status_code for _ in range(4)]
    assert codes == [400, 400, 400, 429]
    # the right password does not get through the throttle either
    right = client.post(TOKEN_URL, {"username": "alice", "password": "pw-Secret-123"},
                        format="json")
    assert right.status_code == 429


def test_schema_and_docs_render(db):
    client = APIClient()
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in ("/api/v1/tickets/{id}/transition/", "/api/v1/tickets/{id}/messages/",
                 "/api/v1/tickets/{id}/events/", "/api/v1/organizations/",
                 "/api/v1/users/me/", "/api/v1/auth/token/"):
        assert path in text
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()

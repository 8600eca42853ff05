"""Single sign-on for staff against a real OpenID Connect provider on 127.0.0.1.

django-oauth-toolkit runs in its own process, settings module (tests/oidc_provider) and
database; the helpdesk's mozilla-django-oidc talks to its real authorize, token, userinfo
and JWKS endpoints. Nothing is mocked.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client

from helpdesk.models import AuditEntry
from helpdesk.roles import Role

from ..factories import make_org, make_user

ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID = "helpdesk-test-client"
CLIENT_SECRET = "helpdesk-test-secret-0123456789"
IDP_PASSWORD = "idp-password-1"
CALLBACK = "http://testserver/accounts/oidc/callback/"
PEOPLE = [
    {"username": "mia", "email": "mia@support.example", "groups": ["manager"]},
    {"username": "tom", "email": "tom@support.example", "groups": ["agent"]},
    {"username": "eve", "email": "eve@support.example", "groups": ["agent", "unverified"]},
    {"username": "cat", "email": "cat@acme.example", "groups": []},
    {"username": "nobody", "email": "nobody@support.example", "groups": ["admin"]},
    {"username": "lou", "email": "lou@support.example", "groups": ["support-leads", "x"]},
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("oidc-provider")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    env = {**os.environ, "OIDC_PROVIDER_DB": str(tmp / "provider.sqlite3"),
           "OIDC_PROVIDER_KEY": key, "DJANGO_SETTINGS_MODULE": "tests.oidc_provider.settings",
           "PYTHONPATH": str(ROOT)}
    spec = {"people": PEOPLE, "password": IDP_PASSWORD, "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET, "redirect_uri": CALLBACK}
    subprocess.run([sys.executable, "-m", "tests.oidc_provider.bootstrap", json.dumps(spec)],
                   cwd=ROOT, env=env, check=True, timeout=180)
    port = _free_port()
    log = (tmp / "provider.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "django", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{base}/o/.well-known/jwks.json", timeout=2).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError((tmp / "provider.log").read_text())
        time.sleep(0.3)
    yield base
    process.terminate()
    process.wait(timeout=10)
    log.close()


@pytest.fixture
def sso(settings, provider):
    settings.AUTHENTICATION_BACKENDS = [*settings.AUTHENTICATION_BACKENDS,
                                        "helpdesk.oidc.StaffOIDCBackend"]
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{provider}/o/authorize/"
    settings.OIDC_OP_TOKEN_ENDPOINT = f"{provider}/o/token/"
    settings.OIDC_OP_USER_ENDPOINT = f"{provider}/o/userinfo/"
    settings.OIDC_OP_JWKS_ENDPOINT = f"{provider}/o/.well-known/jwks.json"
    return provider


def sign_in_through_provider(rp: Client, provider: str, username: str):
    """The browser's round trip: helpdesk -> provider sign-in -> authorize -> callback."""
    start = rp.get("/accounts/oidc/authenticate/")
    assert start.status_code == 302
    authorize = start["Location"]
    assert authorize.startswith(f"{provider}/o/authorize/")
    parts = urlsplit(authorize)
    idp = requests.Session()
    idp.get(f"{provider}/accounts/login/", timeout=10)
    signed_in = idp.post(f"{provider}/accounts/login/", timeout=10, allow_redirects=False, data={
        "username": username, "password": IDP_PASSWORD,
        "csrfmiddlewaretoken": idp.cookies["csrftoken"],
        "next": f"{parts.path}?{parts.query}"})
    assert signed_in.status_code == 302, signed_in.text[:500]
    code = idp.get(authorize, timeout=10, allow_redirects=False)
    assert code.status_code == 302, code.text[:500]
    callback = code.headers["Location"]
    assert callback.startswith(CALLBACK) and "code=" in callback
    return rp.get(callback.removeprefix("http://testserver"))


@pytest.mark.django_db
def test_staff_sign_in_by_verified_email_and_get_their_roles_from_the_claim(sso):
    local = make_user(Role.AGENT, username="mia_local", email="MIA@support.example")
    rp = Client()
    response = sign_in_through_provider(rp, sso, "mia")
    assert response.status_code == 302
    assert "/accounts/login/" not in response["Location"]
    assert rp.get("/agent/queue/mine/").status_code == 200
    assert set(local.groups.values_list("name", flat=True)) == {Role.MANAGER}
    assert AuditEntry.objects.filter(model="helpdesk.User", object_id=str(local.pk),
                                     changes__groups=[[], [Role.MANAGER]]).exists()


@pytest.mark.django_db
def test_an_unverified_email_a_customer_or_a_stranger_gets_no_session(sso):
    make_user(Role.AGENT, username="eve_local", email="eve@support.example")
    make_user(Role.CUSTOMER, username="cat_local", email="cat@acme.example")
    for who in ("eve", "cat", "nobody"):
        rp = Client()
        response = sign_in_through_provider(rp, sso, who)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/"), who
        assert rp.get("/agent/queue/mine/").status_code == 302, who
    from helpdesk.models import User

    assert not User.objects.filter(email="nobody@support.example").exists()


@pytest.mark.django_db
def test_an_sso_only_organization_signs_in_through_the_provider_only(sso):
    staff = make_org("Support Inc", domain="support.example")
    staff.staff_sso_only = True
    staff.save()
    make_user(Role.AGENT, org=staff, username="tom_local", email="tom@support.example")
    rp = Client()
    assert rp.post("/accounts/login/", {"username": "tom_local",
                                        "password": "pw-Secret-123"}).status_code == 200
    assert rp.get("/agent/queue/mine/").status_code == 302
    sign_in_through_provider(rp, sso, "tom")
    assert rp.get("/agent/queue/mine/").status_code == 200


@pytest.mark.django_db
def test_the_login_page_offers_sso_when_configured_and_says_why_it_failed(client, settings):
    settings.OIDC_RP_CLIENT_ID = ""
    assert b"single sign-on" not in client.get("/accounts/login/").content
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    assert b"/accounts/oidc/authenticate/" in client.get("/accounts/login/").content
    assert b"did not sign you in" in client.get("/accounts/login/?sso=failed").content


@pytest.mark.django_db
def test_provider_group_names_map_to_roles(sso, settings):
    settings.OIDC_ROLE_MAP = {"support-leads": Role.TEAM_LEAD}
    local = make_user(Role.AGENT, username="lou_local", email="lou@support.example")
    rp = Client()
    sign_in_through_provider(rp, sso, "lou")
    assert rp.get("/agent/queue/mine/").status_code == 200
    assert set(local.groups.values_list("name", flat=True)) == {Role.TEAM_LEAD}

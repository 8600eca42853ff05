"""Issue 28: safe methods never write.

HEAD and OPTIONS are safe (RFC 9110): CSRF protection does not cover them, so a browser
with a session can be made to send them anywhere. Every route of the URL map is sent
both, with a JSON and a form body carrying valid data for its writes, by a user of every
kind; the database counts no written row, and no e-mail, file or after-commit event
follows. (HEAD on the messages API used to fall into its POST branch and store a reply.)
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.urls import reverse

from tests.factories import make_ticket

from .kwargs import build_url
from .test_authz_matrix import RULES, _client
from .test_leaks_mail_exports import WRITES
from .written import rows_written

# Valid data for the writes that live behind most routes (a reply, a status change, a
# ticket, a vote, a review): if a safe method reached a write, it would succeed.
GENERIC_BODY: dict[str, Any] = {
    "body": "Written by a safe method", "subject": "Safe method", "public": True,
    "description": "Written by a safe method", "to": "resolved", "status": "resolved",
    "reason": "Written by a safe method", "visibility": "public", "helpful": "yes",
    "rating": 5, "comment": "Written by a safe method", "kind": "note", "title": "Safe",
}
ROLES = ("anonymous", "customer_a", "org_admin_a", "agent_x", "lead_x", "admin")


@pytest.fixture
def media(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def nothing_stored(media: Path, django_capture_on_commit_callbacks):
    """`with nothing_stored(): ...`: no row written, no mail, no file, nothing announced
    (the idea of tests/security/test_hostile_input.py, with the database's own count of
    written rows, so an UPDATE is seen as well as an INSERT)."""

    @contextmanager
    def check(what: str) -> Iterator[None]:
        before = (rows_written(), len(mail.outbox))
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            yield
        files = [p for p in media.rglob("*") if p.is_file()] if media.exists() else []
        assert (rows_written(), len(mail.outbox)) == before, f"{what} wrote"
        assert not callbacks, f"{what} announced a change"
        assert not files, f"{what} stored a file"

    return check


def test_the_write_counter_sees_inserts_and_updates(world):
    """The control: the counter moves on an INSERT and on an UPDATE."""
    from tickets.models import Ticket

    before = rows_written()
    Ticket.objects.filter(pk=world.ids["ticket"]).update(subject="Changed")
    after_update = rows_written()
    make_ticket(world.users["customer_a"], subject="Counted")
    assert before < after_update < rows_written()


@pytest.mark.parametrize("role", ROLES)
def test_head_and_options_with_a_body_store_nothing_on_any_route(world, role, nothing_stored):
    client = _client(world, role)
    wrong = []
    for name in sorted(RULES):
        url = build_url(name, world)
        write = WRITES.get((name, "post"))
        data = {**GENERIC_BODY, **(write.data(world) if write and write.data else {})}
        for method in ("head", "options"):
            for content_type, body in (
                    ("application/json", json.dumps(data)),
                    ("application/x-www-form-urlencoded",
                     "&".join(f"{k}={v}" for k, v in data.items()))):
                try:
                    with nothing_stored(f"{method.upper()} {name} as {role}"):
                        response = client.generic(method.upper(), url, body,
                                                  content_type=content_type)
                except AssertionError as exc:
                    wrong.append(str(exc))
                    continue
                if response.status_code >= 500:
                    wrong.append(f"{method.upper()} {name} as {role}: {response.status_code}")
                if method == "head" and response.content:
                    wrong.append(f"HEAD {name} as {role}: answered with a body")
    assert not wrong, "\n".join(wrong)


def test_head_on_the_messages_api_mirrors_get_and_stores_nothing(world, nothing_stored):
    """The defect: HEAD with a JSON body answered 201 and stored the message; without a
    body it answered 400 instead of mirroring GET."""
    client = _client(world, "customer_a")
    url = reverse("ticket-messages", args=[world.ids["ticket"]])
    get = client.get(url)
    assert get.status_code == 200
    with nothing_stored("HEAD messages"):
        with_body = client.generic("HEAD", url, json.dumps({"body": "Stored by HEAD?"}),
                                   content_type="application/json")
        without_body = client.head(url)
    for head in (with_body, without_body):
        assert head.status_code == 200
        assert head.content == b""
        assert head["Content-Type"] == get["Content-Type"]
    assert client.post(url, {"body": "A real reply"}).status_code == 201  # POST still writes

"""Hostile input: oversized, malformed, mistyped and odd-unicode requests.

Each request gets an answer a person or an integrator can act on: a 4xx that says what
was wrong (JSON under /api/), or the text is stored and shown back exactly. Never a 500,
and a refused request leaves nothing behind: no ticket, message, attachment, event, tag,
notification or e-mail, and no file in MEDIA_ROOT or the upload temp dir. Run it on
SQLite and PostgreSQL (NUL and lone surrogates matter most there). The payload tables
are in hostile_corpus.py.
"""
from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from itertools import cycle
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from helpdesk.models import Notification, User
from knowledge.models import SearchLog
from mailgate.models import InboundMessage, Mailbox, OutboundEmail, Quarantine
from tests.factories import make_ticket
from tickets.models import Attachment, Message, Tag, Ticket, TicketEvent

from .hostile_corpus import (
    MALFORMED_JSON,
    NOT_TEXT,
    REFUSED_NAMES,
    ROUND_TRIP,
    SAFE_NAMES,
    SEARCH_QUERIES,
    WRONG_CONTENT_TYPES,
)

pytestmark = pytest.mark.django_db

STORED_MODELS = (Ticket, Message, Attachment, TicketEvent, Tag, Notification, OutboundEmail,
                 InboundMessage, Quarantine, SearchLog, User)


def fit(text: str, length: int) -> str:
    """`text` cut to `length` characters, fenced so no edge is whitespace (forms strip)."""
    return f"«{text[: length - 2]}»"


# --- what was stored ------------------------------------------------------------------

@pytest.fixture(autouse=True)
def media(settings, tmp_path: Path) -> Path:
    """MEDIA_ROOT and the upload temp dir of this test, both empty at the start."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FILE_UPLOAD_TEMP_DIR = tmp_path / "upload-tmp"
    settings.FILE_UPLOAD_TEMP_DIR.mkdir()
    return settings.MEDIA_ROOT


def _files(media: Path) -> list[str]:
    return sorted(str(p.relative_to(media.parent)) for p in media.parent.rglob("*")
                  if p.is_file())


def _state(media: Path) -> dict[str, Any]:
    return {
        "rows": {model.__name__: model.objects.count() for model in STORED_MODELS},
        "tickets": list(Ticket.objects.order_by("pk").values_list(
            "pk", "status", "subject", "priority", "assignee_id", "updated_at")),
        "outbox": len(mail.outbox),
        "files": _files(media),
    }


@pytest.fixture
def nothing_stored(media: Path, django_capture_on_commit_callbacks
                   ) -> Callable[[], AbstractContextManager[None]]:
    """`with nothing_stored(): ...`: the request left every table, the mail outbox and
    the disk as they were, and announced nothing (no on-commit event handler queued)."""

    @contextmanager
    def check() -> Iterator[None]:
        before = _state(media)
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            yield
        assert not callbacks, "a refused request announced a change"
        assert _state(media) == before

    return check


# --- who sends what, where ------------------------------------------------------------

@pytest.fixture
def ticket(customer_a, agent) -> Ticket:
    """Alice's ticket, assigned to Agnes (L1 round robin), with no message yet."""
    return make_ticket(customer_a, subject="Printer jams", description="Tray 2 jams.")


@dataclass(frozen=True)
class Target:
    """A place that takes text (and files) from a person or an integrator."""

    role: str  # customer or agent
    url: str  # {ticket} is the ticket fixture's id
    text_fields: tuple[str, ...]  # where the text under test goes
    extra: tuple[tuple[str, str], ...] = ()  # other fields a valid request needs
    created: int = 302  # the status of success
    refused: int = 400  # the status of a refusal the view itself answers

    @property
    def api(self) -> bool:
        return self.url.startswith("/api/")


TARGETS = {
    "api_create": Target("customer", "/api/v1/tickets/", ("subject", "description"),
                         created=201),
    "api_reply": Target("customer", "/api/v1/tickets/{ticket}/messages/", ("body",),
                        created=201),
    # The portal re-renders its form (200) with the error next to the field.
    "portal_new": Target("customer", "/portal/tickets/new/", ("subject", "description"),
                         refused=200),
    "portal_reply": Target("customer", "/portal/tickets/{ticket}/reply/", ("body",),
                           refused=200),
    "agent_new": Target("agent", "/agent/tickets/new/", ("subject", "description"),
                        extra=(("requester", "alice"), ("channel", "phone"))),
    "agent_reply": Target("agent", "/agent/tickets/{ticket}/reply/", ("body",),
                          extra=(("visibility", "public"),)),
}
UPLOAD_TARGETS = ("api_create", "portal_new", "agent_reply")

BOUNDARY = "hostile-input-boundary-7d93a1"


def multipart(fields: dict[str, str], files: list[tuple[str, bytes]]) -> bytes:
    """A multipart body written by hand, so file names reach the server exactly as given
    (Django's test client would take the base name of a path first)."""
    parts = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
             .encode() + value.encode() + b"\r\n" for name, value in fields.items()]
    parts += [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="attachments"; '
              f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
              .encode() + data + b"\r\n" for filename, data in files]
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def encode(fields: dict[str, str], encoding: str, files: list[tuple[str, bytes]]
           ) -> tuple[bytes, str]:
    if encoding == "json":
        return json.dumps(fields).encode(), "application/json"  # ASCII: \ud800 escapes
    if encoding == "form":
        return urlencode(fields).encode(), "application/x-www-form-urlencoded"
    return multipart(fields, files), f"multipart/form-data; boundary={BOUNDARY}"


@pytest.fixture
def client_as(customer_a, agent) -> Callable[[str], Client]:
    def make(role: str) -> Client:
        if role == "anonymous":
            return Client()
        user = {"customer": customer_a, "agent": agent}[role]
        client = APIClient()
        client.force_login(user)  # session: works for the API and the pages alike
        return client

    return make


@pytest.fixture
def send(client_as, ticket) -> Callable[..., Any]:
    """POST `text` in every text field of a target (plus what a valid request needs)."""

    def post(target: str, text: str = "See attached.", *, encoding: str = "form",
             files: list[tuple[str, bytes]] = (), fields: dict[str, str] | None = None):
        spec = TARGETS[target]
        data = dict(spec.extra) | dict.fromkeys(spec.text_fields, text) | (fields or {})
        body, content_type = encode(data, "multipart" if files else encoding, list(files))
        url = spec.url.format(ticket=ticket.pk)
        return client_as(spec.role).post(url, body, content_type=content_type)

    return post


def says(response, *phrases: str, api: bool) -> None:
    """The answer explains itself: JSON with a `detail` under /api/, HTML elsewhere."""
    if api:
        assert response["Content-Type"] == "application/json", response.content[:200]
        text = response.json()["detail"]
        assert isinstance(text, str) and text
    else:
        assert response["Content-Type"].startswith("text/html")
        text = response.content.decode()
    for phrase in phrases:
        assert phrase in text, text[:2000]


def names_field(response, *fields: str) -> None:
    """An API 400 whose `errors` names each field (dotted for nested ones: tags.0)."""
    assert response.status_code == 400, response.content[:500]
    body = response.json()
    assert set(fields) <= set(body["errors"]), body
    for field in fields:
        assert all(isinstance(m, str) and "ErrorDetail" not in m
                   for m in body["errors"][field]), body
    assert "ErrorDetail" not in body["detail"]


# === 1. Oversized bodies, too many fields and files, fields over their length ==========

@pytest.mark.parametrize("target,encoding", [
    ("api_create", "json"), ("api_create", "form"), ("api_create", "multipart"),
    ("api_reply", "json"), ("portal_new", "form"), ("portal_new", "multipart"),
    ("agent_reply", "form"),
])
def test_a_body_over_the_upload_limit_is_refused_with_413(send, nothing_stored, target,
                                                          encoding):
    too_big = "y" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    with nothing_stored():
        response = send(target, too_big, encoding=encoding)
    assert response.status_code == 413
    limit = f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 2**20:g} MB"
    says(response, "too large", limit, "Nothing was saved", api=TARGETS[target].api)


@pytest.mark.parametrize("target,encoding", [
    ("api_create", "form"), ("api_create", "multipart"), ("portal_new", "form"),
    ("agent_reply", "multipart"),
])
def test_too_many_form_fields_are_refused(send, nothing_stored, target, encoding):
    padding = {f"field{i}": "1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS)}
    with nothing_stored():
        response = send(target, "Hello", encoding=encoding, fields=padding)
    assert response.status_code == 400
    says(response, "too many fields", api=TARGETS[target].api)


@pytest.mark.parametrize("target", ["api_create", "portal_new"])
def test_more_files_than_django_parses_are_refused(send, nothing_stored, target):
    files = [(f"log{i}.txt", b"x") for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FILES + 1)]
    with nothing_stored():
        response = send(target, files=files)
    assert response.status_code == 400
    says(response, "too many files", api=TARGETS[target].api)


@pytest.mark.parametrize("target", UPLOAD_TARGETS)
def test_more_attachments_than_a_message_takes_are_refused(send, nothing_stored, target):
    limit = settings.HELPDESK_MAX_ATTACHMENTS_PER_MESSAGE
    with nothing_stored():
        response = send(target, files=[(f"log{i}.txt", b"x") for i in range(limit + 1)])
    assert response.status_code == TARGETS[target].refused
    says(response, f"At most {limit} attachments", api=TARGETS[target].api)


@pytest.mark.parametrize("target", UPLOAD_TARGETS)
def test_an_attachment_one_byte_over_the_limit_is_refused(send, nothing_stored, target):
    size = settings.HELPDESK_MAX_ATTACHMENT_BYTES + 1  # spooled to the temp dir: > 2 MB
    with nothing_stored():  # ... and that temp file is gone afterwards
        response = send(target, files=[("capture.har", b"h" * size)])
    assert response.status_code == TARGETS[target].refused
    limit = f"larger than the {settings.HELPDESK_MAX_ATTACHMENT_BYTES // 2**20} MB limit"
    says(response, limit, api=TARGETS[target].api)


def test_an_attachment_of_exactly_the_limit_is_stored(send, media):
    size = settings.HELPDESK_MAX_ATTACHMENT_BYTES
    response = send("api_create", files=[("capture.har", b"h" * size)])
    assert response.status_code == 201
    attachment = Attachment.objects.get()
    assert attachment.size == size and Path(attachment.file.path).stat().st_size == size


@pytest.mark.parametrize("target", ["api_create", "portal_new", "agent_new"])
def test_a_subject_over_255_characters_is_refused_naming_the_field(send, nothing_stored,
                                                                   target):
    with nothing_stored():
        response = send(target, fields={"subject": "s" * 256})
    assert response.status_code == TARGETS[target].refused
    if TARGETS[target].api:
        names_field(response, "subject")
    else:
        says(response, "Subject", "at most 255 characters (it has 256)", api=False)


@pytest.mark.parametrize("changes,field", [
    ({"subject": "s" * 256}, "subject"),
    ({"tags": ["ok", "t" * 51]}, "tags.1"),
])
def test_a_patch_over_a_field_length_is_refused_naming_the_field(client_as, ticket,
                                                                 nothing_stored, changes,
                                                                 field):
    with nothing_stored():
        response = client_as("agent").patch(f"/api/v1/tickets/{ticket.pk}/", changes,
                                            format="json")
    names_field(response, field)


@pytest.mark.parametrize("target", ["api_create", "portal_new"])
def test_255_four_byte_characters_fit_in_a_subject(send, client_as, target):
    subject = "🚀" * 255  # 1020 bytes of UTF-8: the limit counts characters
    assert send(target, fields={"subject": subject}).status_code == TARGETS[target].created
    read = client_as("customer").get(f"/api/v1/tickets/{Ticket.objects.latest('pk').pk}/")
    assert read.json()["subject"] == subject


# === 2. Attachment names ===============================================================

def _in_turn(table: dict[str, Any]) -> list[Any]:
    """Each row of `table` through one of the upload targets, taking them in turn."""
    return [pytest.param(target, *(row if isinstance(row, tuple) else (row,)),
                         id=f"{name}-{target}")
            for (name, row), target in zip(table.items(), cycle(UPLOAD_TARGETS))]


@pytest.mark.parametrize("target,sent,stored", _in_turn(SAFE_NAMES))
def test_an_accepted_file_is_stored_and_offered_under_a_safe_name(send, client_as, media,
                                                                  target, sent, stored):
    response = send(target, files=[(sent, b"hello")])
    assert response.status_code == TARGETS[target].created, response.content[:500]
    attachment = Attachment.objects.get()
    assert attachment.filename == stored
    path = Path(attachment.file.path)
    assert path.name == stored and path.parent.parent.parent == media / "attachments"
    assert _files(media) == [str(path.relative_to(media.parent))]  # nothing else written
    download = client_as("customer").get(f"/portal/attachments/{attachment.pk}/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"hello"
    disposition = download["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f'filename="{stored}"' in disposition or quote(stored) in disposition


@pytest.mark.parametrize("target,name", _in_turn(REFUSED_NAMES))
def test_a_file_of_a_refused_type_is_refused_whatever_its_name(send, nothing_stored,
                                                               target, name):
    with nothing_stored():
        response = send(target, files=[(name, b"MZ\x90\x00")])
    assert response.status_code == TARGETS[target].refused
    says(response, "are not accepted", api=TARGETS[target].api)


# === 3. Malformed JSON and wrong content types on the API ==============================

@dataclass(frozen=True)
class Endpoint:
    role: str
    method: str
    url: str
    valid: dict[str, Any]
    succeeds: int


JSON_ENDPOINTS = {
    "create_ticket": Endpoint("customer", "post", "/api/v1/tickets/",
                              {"subject": "Printer on fire", "description": "Tray 2 smokes."},
                              201),
    "reply": Endpoint("customer", "post", "/api/v1/tickets/{ticket}/messages/",
                      {"body": "Any news?"}, 201),
    "transition": Endpoint("agent", "post", "/api/v1/tickets/{ticket}/transition/",
                           {"to": "waiting_on_customer", "reason": "Asked for the logs."}, 200),
    "patch_ticket": Endpoint("agent", "patch", "/api/v1/tickets/{ticket}/", {"priority": 1},
                             200),
}


@pytest.fixture
def call(client_as, ticket) -> Callable[[str, bytes, str], Any]:
    def request(endpoint: str, body: bytes, content_type: str):
        spec = JSON_ENDPOINTS[endpoint]
        client = client_as(spec.role)
        url = spec.url.format(ticket=ticket.pk)
        return client.generic(spec.method.upper(), url, body, content_type=content_type)

    return request


def _valid_body(endpoint: str) -> str:
    return json.dumps(JSON_ENDPOINTS[endpoint].valid, separators=(",", ":"))


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS)
def test_the_valid_bodies_the_breakages_start_from_succeed(call, endpoint):
    response = call(endpoint, _valid_body(endpoint).encode(), "application/json")
    assert response.status_code == JSON_ENDPOINTS[endpoint].succeeds, response.json()


@pytest.mark.parametrize("breakage", MALFORMED_JSON.values(), ids=MALFORMED_JSON.keys())
def test_malformed_json_is_a_400_with_a_json_error(call, nothing_stored, breakage):
    for endpoint in JSON_ENDPOINTS:
        with nothing_stored():
            response = call(endpoint, breakage(_valid_body(endpoint)), "application/json")
        assert response.status_code == 400, (endpoint, response.content[:300])
        says(response, api=True)


@pytest.mark.parametrize("content_type", WRONG_CONTENT_TYPES.values(),
                         ids=WRONG_CONTENT_TYPES.keys())
def test_json_under_a_wrong_content_type_is_refused(call, nothing_stored, content_type):
    expected = 400 if content_type.startswith("multipart/") else 415
    for endpoint in JSON_ENDPOINTS:
        with nothing_stored():
            response = call(endpoint, _valid_body(endpoint).encode(), content_type)
        assert response.status_code == expected, (endpoint, response.content[:300])
        says(response, "multipart" if expected == 400 else "Unsupported media type", api=True)


def test_the_schema_documents_413_and_415_for_every_body(client_as):
    schema = client_as("agent").get("/api/schema/", HTTP_ACCEPT="application/json").json()
    with_body = [op for path in schema["paths"].values() for op in path.values()
                 if isinstance(op, dict) and "requestBody" in op]
    assert len(with_body) >= 5  # filing, replying, transitions, field changes...
    assert all({"413", "415"} <= set(op["responses"]) for op in with_body)


# The API also reads forms (multipart carries attachments), so JSON text sent as a form,
# or no body at all, is a request naming no field: the required ones are named, and a
# PATCH naming nothing changes nothing.
@pytest.mark.parametrize("endpoint,status,field", [
    ("create_ticket", 400, "subject"), ("reply", 400, "body"), ("transition", 400, "to"),
    ("patch_ticket", 200, None),
])
@pytest.mark.parametrize("body,content_type", [
    (b"", "application/json"), (None, "application/x-www-form-urlencoded"),
], ids=["empty_json", "json_sent_as_form"])
def test_a_body_naming_no_field_stores_nothing(call, nothing_stored, endpoint, status, field,
                                               body, content_type):
    body = _valid_body(endpoint).encode() if body is None else body
    with nothing_stored():
        response = call(endpoint, body, content_type)
    assert response.status_code == status
    if field:
        names_field(response, field)


# === 4. Unicode edge cases =============================================================

@pytest.mark.parametrize("text", ROUND_TRIP.values(), ids=ROUND_TRIP.keys())
def test_unicode_round_trips_exactly_through_the_api(client_as, text):
    api = client_as("customer")
    subject, description = fit(text, 255), f"Before {text} after"
    created = api.post("/api/v1/tickets/", {"subject": subject, "description": description},
                       format="json")
    assert created.status_code == 201, created.content[:300]
    read = api.get(f"/api/v1/tickets/{created.json()['id']}/").json()
    assert (read["subject"], read["description"]) == (subject, description)

    url = f"/api/v1/tickets/{read['id']}/messages/"
    assert api.post(url, {"body": f"Reply: {text}"}, format="json").status_code == 201
    assert api.get(url).json()["results"][-1]["body"] == f"Reply: {text}"


@pytest.mark.parametrize("text", ROUND_TRIP.values(), ids=ROUND_TRIP.keys())
def test_unicode_typed_in_the_forms_is_stored_exactly(send, client_as, ticket, text):
    subject = fit(text, 255)
    assert send("portal_new", fields={"subject": subject, "description": text}
                ).status_code == 302
    new = Ticket.objects.latest("pk")
    read = client_as("customer").get(f"/api/v1/tickets/{new.pk}/").json()
    assert (read["subject"], read["description"]) == (subject, text)
    page = client_as("customer").get(f"/portal/tickets/{new.pk}/").content.decode()
    assert subject in page  # shown as typed (nothing here that HTML escapes)

    assert send("agent_reply", f"Agent: {text}").status_code == 302
    messages = client_as("agent").get(f"/api/v1/tickets/{ticket.pk}/messages/").json()
    assert messages["results"][-1]["body"] == f"Agent: {text}"


@pytest.mark.parametrize("text", ROUND_TRIP.values(), ids=ROUND_TRIP.keys())
def test_unicode_in_a_name_is_stored_exactly(text):
    name = fit(text, 150)
    client = Client()
    response = client.post("/accounts/signup/", {
        "username": "newcomer", "email": "newcomer@example.org", "first_name": name,
        "password1": "Unusual-Passphrase-42", "password2": "Unusual-Passphrase-42",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    assert client.get("/api/v1/users/me/").json()["name"] == name


NOT_TEXT_FIELDS = [  # (endpoint, body around the text, the field the 400 must name)
    ("create_ticket", lambda t: {"subject": t, "description": "Tray 2 smokes."}, "subject"),
    ("create_ticket", lambda t: {"subject": "Printer", "description": t}, "description"),
    ("reply", lambda t: {"body": t}, "body"),
    ("transition", lambda t: {"to": "waiting_on_customer", "reason": t}, "reason"),
    ("patch_ticket", lambda t: {"subject": t}, "subject"),
    ("patch_ticket", lambda t: {"tags": ["fine", t]}, "tags.1"),
]


@pytest.mark.parametrize("text", NOT_TEXT.values(), ids=NOT_TEXT.keys())
def test_nul_and_lone_surrogates_in_json_are_refused_naming_the_field(call, nothing_stored,
                                                                      text):
    for endpoint, body, field in NOT_TEXT_FIELDS:
        with nothing_stored():
            response = call(endpoint, json.dumps(body(text)).encode(), "application/json")
        names_field(response, field)


@pytest.mark.parametrize("target,field", [
    ("portal_new", "subject"), ("portal_new", "description"), ("portal_reply", "body"),
    ("agent_new", "subject"), ("agent_reply", "body"),
])
def test_nul_in_a_form_is_refused(send, nothing_stored, target, field):
    with nothing_stored():
        response = send(target, "Printer", fields={field: "before\x00after"})
    assert response.status_code == TARGETS[target].refused
    says(response, "Null characters are not allowed.", api=False)


def test_nul_in_a_name_is_refused():
    response = Client().post("/accounts/signup/", {
        "username": "newcomer", "email": "newcomer@example.org", "first_name": "Ann\x00e",
        "password1": "Unusual-Passphrase-42", "password2": "Unusual-Passphrase-42",
    })
    assert response.status_code == 200
    assert "Null characters are not allowed." in response.content.decode()
    assert not User.objects.filter(username="newcomer").exists()


@pytest.mark.parametrize("target", ["portal_new", "agent_reply"])
def test_undecodable_bytes_in_a_form_become_replacement_characters(client_as, ticket,
                                                                   target):
    # The UTF-8 of a lone surrogate and a stray 0xFF: no browser sends them, a script can.
    spec = TARGETS[target]
    fields = "&".join(f"{name}={quote(value)}" for name, value in spec.extra)
    body = "&".join(f"{name}=Caf%ED%A0%80%FF" for name in spec.text_fields)
    response = client_as(spec.role).post(
        spec.url.format(ticket=ticket.pk), f"{fields}&{body}".lstrip("&"),
        content_type="application/x-www-form-urlencoded")
    assert response.status_code == spec.created
    stored = Message.objects.latest("pk").body if "body" in spec.text_fields else \
        Ticket.objects.latest("pk").subject
    assert stored.startswith("Caf\ufffd")
    assert not any("\ud800" <= ch <= "\udfff" for ch in stored)


# --- searches and query-string filters ------------------------------------------------

SEARCHES = {
    "help_center": ("anonymous", "/help/search/?q={q}"),
    "help_center_api": ("customer", "/api/v1/kb/search/?q={q}"),
    "article_suggestions": ("customer", "/help/suggest/?subject={q}&description={q}"),
    "agent_article_panel": ("agent", "/help/agent/tickets/{ticket}/search/?q={q}"),
    "agent_queue": ("agent", "/agent/queue/open/?q={q}"),
    "api_ticket_tag_filter": ("agent", "/api/v1/tickets/?tag={q}"),
}


@pytest.mark.parametrize("query", SEARCH_QUERIES.values(), ids=SEARCH_QUERIES.keys())
def test_a_search_never_fails_whatever_is_typed(client_as, ticket, query):
    for page, (role, url) in SEARCHES.items():
        response = client_as(role).get(url.format(q=query, ticket=ticket.pk))
        if page == "api_ticket_tag_filter" and "%00" in query:
            names_field(response, "tag")  # not a tag anyone can have
        else:
            assert response.status_code == 200, (page, response.content[:300])
    assert not any("\x00" in logged for logged in SearchLog.objects.values_list("query",
                                                                               flat=True))


@pytest.mark.parametrize("text", ["👩\u200d💻", "\u202egpj", "e\u0301", "²³"])
def test_an_agent_finds_a_ticket_by_unicode_in_its_subject(client_as, customer_a, agent, text):
    wanted = make_ticket(customer_a, subject=f"Laptop {text} broken")
    other = make_ticket(customer_a, subject="Printer jams")
    page = client_as("agent").get(f"/agent/queue/open/?q={quote(text)}").content.decode()
    assert f"/agent/tickets/{wanted.pk}/" in page
    assert f"/agent/tickets/{other.pk}/" not in page


# "²" passes str.isdigit() but not int(): each of these answered 500.
@pytest.mark.parametrize("role,method,url,data,status", [
    ("agent_x", "get", "/agent/queue/open/?q=%23%C2%B2", None, 200),
    ("agent_x", "post", "/agent/tickets/{ticket}/merge/", {"into": "²"}, 400),
    ("agent_x", "post", "/api/v1/casework/engineering-links/%C2%B2/status/",
     {"status": "open"}, 404),
    ("admin", "get", "/api/v1/qa/reviews/?agent=%C2%B2", None, 400),
    ("admin", "get", "/qa/coaching/new/?agent=%C2%B2", None, 200),
    ("admin", "post", "/qa/calibration/new/", {"title": "Week 12", "tickets": "²"}, 400),
], ids=["queue_search", "merge_form", "casework_link", "qa_api_filter", "coaching_form",
        "calibration_form"])
def test_superscript_digits_are_not_taken_for_ids(world, nothing_stored, role, method, url,
                                                  data, status):
    client = APIClient()
    client.force_login(world.users[role])
    with nothing_stored():
        response = getattr(client, method)(url.format(ticket=world.ids["ticket"]), data)
    assert response.status_code == status


# --- inbound e-mail -------------------------------------------------------------------

TOKEN = "hostile-input-webhook-token"


@pytest.fixture
def inbound(monkeypatch, customer_a, agent) -> Callable[[bytes], Any]:
    """POST one raw message to the mailbox's webhook, from Alice."""
    Mailbox.objects.create(name="support", address="support@helpdesk.test", imap_host="",
                           webhook_token_env="HOSTILE_MAIL_TOKEN")
    monkeypatch.setenv("HOSTILE_MAIL_TOKEN", TOKEN)

    def post(subject: bytes, body: bytes, *, transfer_encoding: str = "8bit"):
        raw = (b"From: Alice <alice@acme.example>\r\nTo: support@helpdesk.test\r\n"
               b"Subject: " + subject + b"\r\nMessage-ID: <hostile-1@acme.example>\r\n"
               b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
               b"Content-Transfer-Encoding: " + transfer_encoding.encode() + b"\r\n\r\n"
               + body + b"\r\n")
        return Client().post("/mail/inbound/support/", raw, content_type="message/rfc822",
                             HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    return post


def _encoded_word(text: str) -> bytes:
    return b"=?utf-8?b?" + base64.b64encode(text.encode()) + b"?="


@pytest.mark.parametrize("subject,body,transfer_encoding,expected", [
    (b"Printer\x00jams", b"Tray 2 jams.", "8bit", ("Printerjams", "Tray 2 jams.")),
    (b"=?utf-8?q?Printer=00jams?=", b"Tray 2 jams.", "8bit", ("Printerjams", "Tray 2 jams.")),
    (b"Printer jams", b"Tray 2\x00 jams.", "8bit", ("Printer jams", "Tray 2 jams.")),
    (b"Printer jams", base64.b64encode(b"Tray 2\x00 jams."), "base64",
     ("Printer jams", "Tray 2 jams.")),
], ids=["raw_subject", "encoded_subject", "raw_body", "base64_body"])
def test_an_email_with_nul_becomes_a_ticket_without_it(inbound, subject, body,
                                                       transfer_encoding, expected):
    # Broken mailers do send NUL; on PostgreSQL such a mail used to land in quarantine.
    response = inbound(subject, body, transfer_encoding=transfer_encoding)
    assert response.status_code == 202 and response.json()["status"] == "ticket_created"
    ticket = Ticket.objects.get(pk=response.json()["ticket"])
    assert (ticket.subject, ticket.description) == expected
    assert not Quarantine.objects.exists()


@pytest.mark.parametrize("text", ROUND_TRIP.values(), ids=ROUND_TRIP.keys())
def test_unicode_in_an_email_reaches_the_ticket(inbound, text):
    subject = fit(text, 255)
    response = inbound(_encoded_word(subject),
                       base64.b64encode(f"Hello, {text} thanks".encode()),
                       transfer_encoding="base64")
    assert response.json()["status"] == "ticket_created"
    ticket = Ticket.objects.get(pk=response.json()["ticket"])
    assert ticket.subject == " ".join(subject.split())  # a header's whitespace folds
    assert f"Hello, {text} thanks" in ticket.description


def test_undecodable_bytes_in_an_email_header_become_replacement_characters(inbound):
    response = inbound(b"Caf\xc3\xa9 \xff\xfe broken", b"Tray 2 jams.")
    ticket = Ticket.objects.get(pk=response.json()["ticket"])
    assert ticket.subject.startswith("Café ") and "\ufffd" in ticket.subject
    assert not any("\ud800" <= ch <= "\udfff" for ch in ticket.subject)

"""Erasure: a second admin approves, then the person is gone from every table and from the
media folder; the ticket history stays for the other party."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection

from helpdesk.models import AuditEntry, User
from helpdesk.roles import Role
from privacy import services
from privacy.models import PrivacyRequest
from tests.factories import make_user
from tickets.models import Message

from .conftest import EMAIL, NAME, PHRASE

NEEDLES = [NAME.lower(), EMAIL.lower(), PHRASE.lower(), "quackenbush"]


def _text(value) -> str:
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return "" if value is None else str(value)


def rows_naming_the_person() -> list[tuple[str, str]]:
    """Every column of every table in the database (introspected, not from the models)."""
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            columns = [c[0] for c in cursor.description]
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    text = _text(value).lower()
                    for needle in NEEDLES:
                        if needle in text:
                            found.append((f"{table}.{column}", needle))
    return found


def files_naming_the_person() -> list[tuple[str, str]]:
    """Every file under MEDIA_ROOT, and every member of any ZIP there."""
    found = []
    for path in Path(settings.MEDIA_ROOT).rglob("*"):
        if not path.is_file():
            continue
        blobs = [(str(path), path.read_bytes())]
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                blobs += [(f"{path}!{n}", archive.read(n)) for n in archive.namelist()]
        for name, blob in blobs:
            text = blob.decode("utf-8", "replace").lower() + name.lower()
            found += [(name, n) for n in NEEDLES if n in text]
    return found


@pytest.fixture
def admins(db):
    return (make_user(Role.ADMIN, username="privacy_one"),
            make_user(Role.ADMIN, username="privacy_two"))


@pytest.mark.django_db(transaction=True)
def test_after_erasure_no_table_and_no_file_names_the_person(footprint, admins, agent):
    first, second = admins
    # An export made earlier sits in the media folder: it goes too.
    services.request_export(subject=footprint.person, actor=first)
    assert rows_naming_the_person(), "the world must name the person before erasure"
    assert files_naming_the_person()

    request = services.request_erasure(subject=footprint.person, actor=first,
                                       reason="GDPR request 2026-117")
    services.approve_erasure(request, approver=second)

    leaks = sorted(set(rows_naming_the_person()))
    assert not leaks, "\n".join(map(str, leaks))
    left = sorted(set(files_naming_the_person()))
    assert not left, "\n".join(map(str, left))
    request.refresh_from_db()
    assert request.state == PrivacyRequest.State.DONE
    person = User.objects.get(pk=footprint.person.pk)
    assert person.display_name == f"Erased user #{person.pk}"
    assert not person.is_active and not person.has_usable_password()
    # The other party keeps the history: agents' replies and notes, without the name.
    bodies = list(Message.objects.filter(ticket=footprint.ticket).order_by("created_at")
                  .values_list("body", flat=True))
    assert f"Hi Erased user #{person.pk}, we are on it." in bodies
    assert "Internal: he sounds upset" in bodies
    assert "[erased]" in bodies
    # Somebody else's ticket is untouched.
    footprint.other_ticket.refresh_from_db()
    assert footprint.other_ticket.description == "Nothing about anyone."
    entry = AuditEntry.objects.get(action="erase", model="helpdesk.User")
    assert entry.actor == second and entry.changes["approved_by"] == [None, second.pk]


@pytest.mark.django_db
def test_erasure_needs_a_second_admin(footprint, admins, agent):
    first, _ = admins
    request = services.request_erasure(subject=footprint.person, actor=first)
    with pytest.raises(ValidationError):
        services.approve_erasure(request, approver=first)
    request.refresh_from_db()
    assert request.state == PrivacyRequest.State.AWAITING_APPROVAL
    assert User.objects.get(pk=footprint.person.pk).email == EMAIL
    with pytest.raises(Exception):  # noqa: B017 - PermissionDenied for staff without the right
        services.request_erasure(subject=footprint.person, actor=agent)


@pytest.mark.django_db
def test_erasure_is_irreversible_and_runs_once(footprint, admins,
                                               django_capture_on_commit_callbacks):
    first, second = admins
    request = services.request_erasure(subject=footprint.person, actor=first)
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_erasure(request, approver=second)
    with pytest.raises(ValidationError):
        services.approve_erasure(request, approver=second)
    person = User.objects.get(pk=footprint.person.pk)
    with pytest.raises(ValidationError):
        services.request_erasure(subject=person, actor=first)
    assert AuditEntry.objects.filter(action="erase", model="helpdesk.User").count() == 1


@pytest.mark.django_db
def test_the_privacy_page_walks_request_and_approval(client, footprint, admins,
                                                    django_capture_on_commit_callbacks):
    first, second = admins
    client.force_login(first)
    client.post("/privacy/erasure/", {"person": EMAIL, "reason": "ticket 4711"})
    request = PrivacyRequest.objects.get(kind="erasure")
    page = client.get("/privacy/")
    assert b"Awaiting a second admin" in page.content and b"Approve erasure" not in page.content
    client.post(f"/privacy/erasure/{request.pk}/approve/")
    request.refresh_from_db()
    assert request.state == PrivacyRequest.State.AWAITING_APPROVAL
    client.force_login(second)
    assert b"Approve erasure" in client.get("/privacy/").content
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/privacy/erasure/{request.pk}/approve/")
    request.refresh_from_db()
    assert request.state == PrivacyRequest.State.DONE


@pytest.mark.django_db
def test_the_erasure_task_never_runs_unapproved_and_runs_once(footprint, admins):
    from privacy.tasks import erase_task

    first, second = admins
    request = services.request_erasure(subject=footprint.person, actor=first)
    erase_task.run(request.pk)  # a forged or early message: not approved, nothing happens
    assert User.objects.get(pk=footprint.person.pk).email == EMAIL
    PrivacyRequest.objects.filter(pk=request.pk).update(state="queued", approved_by=second)
    erase_task.run(request.pk)
    erase_task.run(request.pk)
    assert AuditEntry.objects.filter(action="erase", model="helpdesk.User").count() == 1

"""Export: a ZIP of everything held about one person, built by Celery with progress,
downloadable once through a signed link, logged."""
from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from pathlib import Path

import pytest
import time_machine
from django.conf import settings

from helpdesk.models import AuditEntry
from helpdesk.roles import Role
from privacy import services
from privacy.export import download_token
from privacy.models import PrivacyRequest
from tests.factories import make_user

from .conftest import EMAIL, NAME, PHRASE

pytestmark = pytest.mark.django_db


@pytest.fixture
def privacy_admin(db):
    return make_user(Role.ADMIN, username="dpo")


@pytest.fixture
def ready(footprint, privacy_admin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        request = services.request_export(subject=footprint.person, actor=privacy_admin)
    request.refresh_from_db()
    return request


def test_the_export_holds_everything_about_the_person_and_nothing_internal(ready, footprint):
    assert ready.state == PrivacyRequest.State.READY and ready.progress == 100
    archive = zipfile.ZipFile(Path(settings.MEDIA_ROOT) / ready.file)
    names = set(archive.namelist())
    assert {"profile.json", "tickets.json", "surveys.json", "help_center_searches.json",
            "help_center_votes.json", "notifications.json"} <= names
    profile = json.loads(archive.read("profile.json"))
    assert profile["email"] == EMAIL and profile["last_name"] == "Quackenbush"
    tickets = json.loads(archive.read("tickets.json"))
    bodies = [m["body"] for m in tickets[0]["messages"]]
    assert any(f"Hi {NAME}" in b for b in bodies)  # what they received
    assert any(PHRASE in b for b in bodies)  # what they wrote
    assert not any("Internal" in b for b in bodies)  # staff notes are not theirs
    assert PHRASE in archive.read("surveys.json").decode()
    assert PHRASE in archive.read("help_center_searches.json").decode()
    assert PHRASE in archive.read("help_center_votes.json").decode()
    assert PHRASE in archive.read("notifications.json").decode()
    files = [n for n in names if n.startswith("attachments/")]
    assert any(n.endswith("log.txt") for n in files) and any(n.endswith("notes.txt")
                                                            for n in files)


def test_the_link_downloads_once_and_every_step_is_logged(client, ready, privacy_admin,
                                                            footprint):
    url = f"/privacy/download/{download_token(ready)}/"
    client.force_login(footprint.person)  # the person themself may fetch it
    first = client.get(url)
    assert first.status_code == 200 and first["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(first.streaming_content)))
    assert "profile.json" in archive.namelist()
    assert client.get(url).status_code == 410
    assert not (Path(settings.MEDIA_ROOT) / "privacy-exports").exists() or not any(
        (Path(settings.MEDIA_ROOT) / "privacy-exports").iterdir())
    steps = AuditEntry.objects.filter(model="privacy.PrivacyRequest", action="export")
    assert sorted(e.changes["state"][1] for e in steps) == ["downloaded", "requested"]
    assert NAME not in str(list(steps.values()))


def test_a_forged_stale_or_foreign_link_gives_nothing(client, ready, customer_b):
    token = download_token(ready)
    client.force_login(customer_b)
    assert client.get(f"/privacy/download/{token}/").status_code == 404
    client.force_login(ready.subject)
    assert client.get(f"/privacy/download/{token[:-2]}xx/").status_code == 404
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=settings.PRIVACY_EXPORT_TTL_HOURS + 1)
    with time_machine.travel(later):
        assert client.get(f"/privacy/download/{token}/").status_code == 404
    ready.refresh_from_db()
    assert ready.state == PrivacyRequest.State.READY


def test_unfetched_exports_expire(ready):
    from privacy.tasks import expire_exports

    path = Path(settings.MEDIA_ROOT) / ready.file
    assert path.exists()
    assert expire_exports() == 0
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(hours=49)):
        assert expire_exports() == 1
    assert not path.exists()
    ready.refresh_from_db()
    assert ready.state == PrivacyRequest.State.EXPIRED


def test_exports_need_the_privacy_right_and_a_fresh_sign_in(client, settings, footprint,
                                                            privacy_admin, manager):
    client.force_login(manager)
    assert client.post("/privacy/export/", {"person": EMAIL}).status_code == 404
    settings.HELPDESK_REAUTH_MINUTES = 15
    client.force_login(privacy_admin)
    response = client.post("/privacy/export/", {"person": EMAIL})
    assert response["Location"].startswith("/accounts/reauth/")
    assert not PrivacyRequest.objects.exists()
    client.post("/accounts/reauth/", {"password": "pw-Secret-123"})
    assert client.post("/privacy/export/", {"person": EMAIL}).status_code == 302
    assert PrivacyRequest.objects.filter(kind="export").count() == 1


def test_tickets_they_were_copied_on_or_wrote_on_are_in_the_export(
        footprint, privacy_admin, customer_a, django_capture_on_commit_callbacks):
    from tests.factories import make_ticket
    from tickets import services as ticket_services

    colleague = make_ticket(customer_a, subject="Shared outage", description="Org-wide")
    colleague.ccs.add(footprint.person)
    joined = make_ticket(customer_a, subject="Billing thread", description="Invoice 12")
    ticket_services.add_reply(joined, author=footprint.person, body="Me too, code 4471")
    unrelated = make_ticket(customer_a, subject="Not theirs", description="Private")
    with django_capture_on_commit_callbacks(execute=True):
        request = services.request_export(subject=footprint.person, actor=privacy_admin)
    request.refresh_from_db()
    archive = zipfile.ZipFile(Path(settings.MEDIA_ROOT) / request.file)
    tickets = {t["id"]: t for t in json.loads(archive.read("tickets.json"))}
    assert {footprint.ticket.pk, colleague.pk, joined.pk} <= tickets.keys()
    assert unrelated.pk not in tickets
    assert tickets[footprint.ticket.pk]["you_filed_it"] and not tickets[joined.pk]["you_filed_it"]
    assert any("4471" in m["body"] and m["written_by_you"] for m in tickets[joined.pk]["messages"])


def test_progress_climbs_to_done_and_a_second_run_of_the_task_changes_nothing(
        footprint, privacy_admin):
    from privacy.export import build_export
    from privacy.tasks import build_export_task

    request = PrivacyRequest.objects.create(
        kind="export", state="queued", subject=footprint.person,
        subject_label=f"user #{footprint.person.pk}", requested_by=privacy_admin)
    seen: list[int] = []
    name = build_export(request, seen.append)
    assert seen == sorted(seen) and seen[0] > 0 and seen[-1] >= 95
    (Path(settings.MEDIA_ROOT) / name).unlink()
    build_export_task.run(request.pk)
    request.refresh_from_db()
    assert request.state == PrivacyRequest.State.READY and request.progress == 100
    built = request.file
    build_export_task.run(request.pk)  # a retried or duplicated message
    request.refresh_from_db()
    assert request.file == built
    assert len(list((Path(settings.MEDIA_ROOT) / "privacy-exports").iterdir())) == 1

"""Issue 24 on a real Celery worker (PostgreSQL, private Redis): the export is built by the
worker, its progress reaches the web side through the database, and a duplicated message
builds one ZIP, not two."""
from __future__ import annotations

import json
import zipfile

import pytest

from helpdesk.roles import Role
from privacy.models import PrivacyRequest
from tests.factories import make_org, make_ticket, make_user

from .conftest import needs_postgresql, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), needs_postgresql]


def test_a_worker_builds_the_export_once_with_progress(celery, tmp_path):
    person = make_user(Role.CUSTOMER, org=make_org(), username="worker_subject")
    make_ticket(person, subject="Export me", description="a phrase only I wrote 5521")
    admin = make_user(Role.ADMIN, username="worker_dpo")
    request = PrivacyRequest.objects.create(
        kind="export", state="queued", subject=person, subject_label=f"user #{person.pk}",
        requested_by=admin)
    celery.worker(concurrency=2)
    celery.send("privacy.tasks.build_export_task", request.pk)
    celery.send("privacy.tasks.build_export_task", request.pk)  # a duplicate delivery
    wait_for(lambda: PrivacyRequest.objects.get(pk=request.pk).state == "ready",
             timeout=90, what=lambda: "the export to be built\n" + celery.output())
    request.refresh_from_db()
    assert request.progress == 100
    exports = list((tmp_path / "media" / "privacy-exports").iterdir())
    assert [p.name for p in exports] == [request.file.rsplit("/", 1)[1]]
    tickets = json.loads(zipfile.ZipFile(exports[0]).read("tickets.json"))
    assert tickets[0]["description"] == "a phrase only I wrote 5521"

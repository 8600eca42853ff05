"""A real django-helpdesk 2.6.1 database, built once per test session with its own code.

The package is installed in a throw-away virtual environment cached under ~/.cache
(importers.dh_env), migrated with its own migrations and filled with its own models by
dh_fill.py. On PostgreSQL runs the source database is a PostgreSQL database of its own
(so both of the importer's readers are exercised in CI); on SQLite runs, a SQLite file.
Three rows are then broken with plain SQL, as a long-lived installation ends up with
them: a ticket whose queue is gone, a follow-up whose author is gone, and an attachment
whose file was deleted from disk.
"""
from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command

from importers.dh_env import DjangoHelpdesk

HERE = Path(__file__).parent
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday
MISSING_USER = 999


@dataclass
class DjangoHelpdeskFixture:
    location: str  # what --from takes
    media_root: Path
    manifest: dict
    sqlite_path: Path | None  # the SQLite file (on SQLite runs), to copy and change

    def ticket(self, key: str) -> dict:
        return self.manifest["tickets"][key]


def _postgres_source(tmp: Path) -> tuple[str, callable]:
    import psycopg

    url = os.environ["DATABASE_URL"]
    name = f"dh_source_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    base, _, _ = url.rpartition("/")
    return f"{base}/{name}", drop


def _break_rows(dh: DjangoHelpdesk, manifest: dict) -> None:
    broken_ticket = manifest["tickets"]["broken_queue"]["id"]
    followup = manifest["tickets"]["on_hold"]["followups"][-1]["id"]
    statements = [("UPDATE helpdesk_ticket SET queue_id = 999 WHERE id = %s", broken_ticket),
                  ("UPDATE helpdesk_followup SET user_id = 999 WHERE id = %s", followup)]
    if dh.database.startswith("postgres"):
        import psycopg

        with psycopg.connect(dh.database, autocommit=True) as conn:
            for table in ("helpdesk_ticket", "helpdesk_followup"):
                conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER ALL")
            for sql, pk in statements:
                conn.execute(sql, [pk])
    else:
        with sqlite3.connect(dh.database) as conn:  # foreign keys are off by default here
            for sql, pk in statements:
                conn.execute(sql.replace("%s", "?"), [pk])
    missing = manifest["tickets"]["missing_file"]["followups"][-1]["attachments"][0]["path"]
    (dh.media_root / missing).unlink()


@pytest.fixture(scope="session")
def dh_source(tmp_path_factory) -> DjangoHelpdeskFixture:
    tmp = tmp_path_factory.mktemp("django-helpdesk")
    drop = None
    database = None
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        database, drop = _postgres_source(tmp)
    dh = DjangoHelpdesk.create(tmp, database=database)
    dh.migrate()
    dh.run_script(HERE / "dh_fill.py", str(tmp / "manifest.json"), NOW.isoformat())
    manifest = json.loads((tmp / "manifest.json").read_text())
    _break_rows(dh, manifest)
    yield DjangoHelpdeskFixture(
        dh.database, dh.media_root, manifest,
        None if database else Path(dh.database))
    if drop is not None:
        drop()


@pytest.fixture
def at_now():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def run_import(command: str, location: str | Path, *args: str):
    from io import StringIO

    out = StringIO()
    call_command(command, "--from", str(location), "--no-progress", "--no-rollup", *args,
                 stdout=out, stderr=StringIO())
    return out.getvalue()

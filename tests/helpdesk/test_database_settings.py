"""Database session settings the figures of `manage.py bench --all` depend on."""
from __future__ import annotations

import pytest
from django.db import connection


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL setting")
def test_postgresql_sessions_run_without_jit(db):
    """JIT compiled every dashboard aggregate at a million tickets, for seconds each."""
    with connection.cursor() as cur:
        cur.execute("SHOW jit")
        assert cur.fetchone()[0] == "off"

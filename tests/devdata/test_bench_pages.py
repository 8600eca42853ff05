"""`manage.py bench_pages` (and `bench --all`): every page of the catalogue is found by
name, opened by a user allowed to see it, and reported with its figures."""
from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from devdata import pages
from tests.factories import make_ticket
from tickets import services


@pytest.fixture
def seeded(customer_a, agent, manager, l1):
    for i in range(3):
        ticket = make_ticket(customer_a, subject=f"Export fails {i}")
        services.add_reply(ticket, author=agent, body="Looking into it", public=True)
    return customer_a


def test_catalogue_names_every_page_of_the_issue(seeded):
    ctx = pages.pick_users()
    catalogue = pages.catalogue(ctx)
    areas = {p.area for p in catalogue}
    assert areas == {"agent", "portal", "help center", "sla", "metrics", "workforce", "qa",
                     "incidents", "casework", "admin", "api"}
    # Pages that need an object the database lacks say so; every other URL resolves.
    for page in catalogue:
        assert page.path or page.missing.startswith("no "), page.label
    assert ctx.users["customer"] == seeded  # the customer with most tickets


def test_bench_pages_prints_figures_and_misses(seeded):
    out = StringIO()
    call_command("bench_pages", iterations=2, warmup=0, cold=1, only=["portal", "admin"],
                 stdout=out)
    text = out.getvalue()
    rows = [line for line in text.splitlines() if line.startswith(("portal ", "admin "))]
    assert len(rows) == 7
    assert all(" | 200 " in row for row in rows), rows


def test_bench_all_runs_the_page_benchmark(seeded):
    out = StringIO()
    call_command("bench", "--all", "--iterations", "1", stdout=out, verbosity=0)
    assert "portal      | my tickets" in out.getvalue()


def test_the_first_request_is_timed_apart_from_the_cold_ones(seeded, tmp_path):
    """The page's first request in the process (templates compiled, modules imported) is
    not a cold request: it is made first and reported on its own, with the cold SQL."""
    out = tmp_path / "pages.json"
    call_command("bench_pages", iterations=1, warmup=0, cold=2, only=["my tickets"],
                 json_path=str(out), stdout=StringIO())
    (row,) = [r for r in json.loads(out.read_text())["pages"] if r["page"] == "my tickets"]
    assert row["first_ms"] > 0 and row["cold_sql_ms_p95"] >= 0
    assert row["cold_p95_ms"] is not None

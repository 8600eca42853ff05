"""`manage.py bench --api-only`: every API read of issue 21 is timed and printed, with the
figures the closing notes quote (queries, SQL and CPU time, the load average)."""
from __future__ import annotations

import io

from django.core.management import call_command


def test_bench_api_only_prints_every_read(db):
    call_command("demo", tickets=40, stdout=io.StringIO())
    out = io.StringIO()
    call_command("bench", "--api-only", iterations=1, warmup=0, stdout=out)
    text = out.getvalue()
    for row in ("API list, first page", "API list, filtered", "API ticket detail",
                "API ticket messages", "API ticket events",
                "export 10,000 changes, 1000/page", "export 10,000 changes, 100/page"):
        assert row in text, row
    for column in ("p50 ms", "p95 ms", "queries", "SQL ms p50", "CPU ms p50"):
        assert column in text, column
    assert text.count("load average") == 2
    assert "API ticket create" not in text  # the writes are left out

"""The metrics rollup over the generated period (see helpdesk/generators.py): built last,
after every other generator, as `manage.py rebuild_metrics` builds it."""
from __future__ import annotations

import math
from datetime import UTC, datetime

from helpdesk import generators
from helpdesk.generators import Run

from . import rollups
from .models import MetricsHour

DAY = 86400.0


def finish(run: Run) -> None:
    days = max(1, math.ceil((run.now - run.start) / DAY) + 1)
    rows = rollups.rebuild(days, now=datetime.fromtimestamp(run.now, UTC))
    run.count(MetricsHour._meta.db_table, rows)
    run.log(f"  reporting: metrics rollup of {days} days, {rows:,} hour × team rows")


generators.register(generators.Generator("reporting", order=1000, finish=finish))

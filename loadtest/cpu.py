"""CPU seconds used so far by the web workers, the Celery worker and PostgreSQL.

Usage: python loadtest/cpu.py  ->  "<web> <celery> <postgres>" (seconds, one decimal)

Read from /proc (user + system time of every living process, by its command line) rather
than `ps`, whose whole seconds per process hide many short-lived or lightly used
PostgreSQL backends and Celery pool processes.
"""
from __future__ import annotations

import os
from pathlib import Path

PARTS = {"web": "gunicorn", "celery": "celery", "postgres": "postgres"}


def cpu_by_part() -> dict[str, float]:
    ticks = os.sysconf("SC_CLK_TCK")
    totals = dict.fromkeys(PARTS, 0.0)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = (proc / "stat").read_text()
        except OSError:  # the process ended while we looked
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "(comm)", which may hold spaces
        seconds = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        for part, needle in PARTS.items():
            if needle in cmdline:
                totals[part] += seconds
                break
    return totals


if __name__ == "__main__":
    print(" ".join(f"{v:.1f}" for v in cpu_by_part().values()))

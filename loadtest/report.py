"""Summarise a locust CSV run and check the targets.

Usage: python loadtest/report.py PREFIX [--queue-p95-ms 150]

Reads PREFIX_stats.csv and PREFIX_failures.csv (locust --csv PREFIX), prints throughput,
p50/p95/p99 per request name and the errors, and exits 1 when there was any error or
the queue page's p95 is over the target.
"""
from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

QUEUE_PAGE = "queue page"
QUEUE_PATH = re.compile(r"^/agent/queue/[^/]+/$")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("prefix")
    parser.add_argument("--queue-p95-ms", type=float, default=150.0)
    parser.add_argument("--access-log", type=Path,
                        help="gunicorn access log of the run ('%%(m)s %%(U)s %%(q)s %%(s)s "
                             "%%(D)s'): also print the time spent inside the web workers")
    args = parser.parse_args()

    rows = list(csv.DictReader(Path(f"{args.prefix}_stats.csv").read_text().splitlines()))
    width = max(len(r["Name"]) for r in rows)
    print(f"{'request':<{width}} {'count':>7} {'errors':>6} {'req/s':>7} "
          f"{'p50':>6} {'p95':>6} {'p99':>6} {'max':>6}  (ms)")
    for r in rows:
        if r["Name"] == "Aggregated":
            print("-" * (width + 52))
        print(f"{r['Name']:<{width}} {int(r['Request Count']):>7} {int(r['Failure Count']):>6} "
              f"{float(r['Requests/s']):>7.1f} {r['50%']:>6} {r['95%']:>6} {r['99%']:>6} "
              f"{float(r['Max Response Time']):>6.0f}")
    total = next(r for r in rows if r["Name"] == "Aggregated")
    errors = int(total["Failure Count"])
    failures = Path(f"{args.prefix}_failures.csv")
    if errors and failures.exists():
        print("\nerrors:")
        for f in csv.DictReader(failures.read_text().splitlines()):
            print(f"  {f['Occurrences']:>5} × {f['Method']} {f['Name']}: {f['Error'][:160]}")

    if args.access_log and args.access_log.exists():
        server_side(args.access_log)

    problems = []
    if errors:
        problems.append(f"{errors} errors (target 0)")
    queue = next((r for r in rows if r["Name"] == QUEUE_PAGE), None)
    if queue is None or int(queue["Request Count"]) == 0:
        problems.append("no queue page requests were made")
    elif float(queue["95%"]) > args.queue_p95_ms:
        problems.append(f"queue page p95 {queue['95%']} ms > {args.queue_p95_ms:.0f} ms")
    print(f"\nthroughput {float(total['Requests/s']):.1f} req/s, "
          f"{int(total['Request Count'])} requests, {errors} errors; "
          f"queue page p95 {queue['95%'] if queue else '-'} ms "
          f"(target {args.queue_p95_ms:.0f} ms)")
    if problems:
        print("FAILED: " + "; ".join(problems))
        return 1
    print("OK: targets met")
    return 0


def _percentile(values: list[float], share: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * share))] if values else 0.0


def server_side(log: Path) -> None:
    """p50/p95 of the time the web workers spent on the queue page and on every request:
    what locust measured beyond it was spent waiting for a free worker or in locust."""
    queue, every = [], []
    for line in log.read_text().splitlines():
        parts = line.split(" ")
        if len(parts) != 5 or not parts[4].isdigit():
            continue
        method, path, query, _status, micros = parts
        ms = int(micros) / 1000
        every.append(ms)
        if method == "GET" and QUEUE_PATH.match(path) and "page=" not in query:
            queue.append(ms)
    print(f"\ninside the web workers: queue page p50 {_percentile(queue, 0.5):.0f} ms, "
          f"p95 {_percentile(queue, 0.95):.0f} ms ({len(queue)} requests); all requests "
          f"p50 {_percentile(every, 0.5):.0f} ms, p95 {_percentile(every, 0.95):.0f} ms")


if __name__ == "__main__":
    sys.exit(main())

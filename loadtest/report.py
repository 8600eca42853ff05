"""Summarise a locust CSV run and check the targets.

Usage: python loadtest/report.py PREFIX [--queue-p95-ms 150]

Reads PREFIX_stats.csv and PREFIX_failures.csv (locust --csv PREFIX), prints throughput,
p50/p95/p99 per request name and the errors, and exits 1 when there was any error or
the queue page's p95 is over the target.
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

QUEUE_PAGE = "queue page"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("prefix")
    parser.add_argument("--queue-p95-ms", type=float, default=150.0)
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


if __name__ == "__main__":
    sys.exit(main())

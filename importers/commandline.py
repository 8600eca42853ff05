"""What the two import commands share: options, the run, and the closing report."""
from __future__ import annotations

import csv
import json
import resource
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from .loader import Loader, Options
from .models import ImportProblem, ImportRun
from .progress import summary_lines
from .sources import SourceReader

SHOWN_PROBLEMS = 20


def add_common_arguments(parser: CommandParser) -> None:
    parser.add_argument("--name", default="",
                        help="Name of this source across runs (default: the source kind).")
    parser.add_argument("--map-queue", action="append", default=[], metavar="SOURCE=TEAM",
                        help="Put a source queue/group (slug, name or id) into an existing "
                             "team (slug). Repeatable.")
    parser.add_argument("--queue-map", type=Path, metavar="FILE",
                        help="The same mapping from a file: JSON {\"source\": \"team\"} or "
                             "SOURCE=TEAM lines.")
    parser.add_argument("--chunk-size", type=int, default=2000,
                        help="Tickets per transaction (default 2000).")
    parser.add_argument("--report", type=Path, metavar="FILE",
                        help="Write every row that could not be imported to this CSV file.")
    parser.add_argument("--no-progress", action="store_true", help="No progress bar.")
    parser.add_argument("--no-rollup", action="store_true",
                        help="Do not rebuild the metrics rollup at the end.")
    parser.add_argument("--fast-load", action="store_true",
                        help="PostgreSQL as a superuser: write tickets with foreign-key "
                             "checks off (faster; for a cut-over when nobody else writes).")


def parse_pairs(values: list[str], what: str) -> dict[str, str]:
    mapping = {}
    for value in values:
        source, sep, target = value.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise CommandError(f"{what} takes SOURCE=TARGET, not {value!r}.")
        mapping[source.strip()] = target.strip()
    return mapping


def queue_map(options: dict) -> dict[str, str]:
    mapping = {}
    path: Path | None = options.get("queue_map")
    if path is not None:
        try:
            text = path.read_text()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from exc
        if text.lstrip().startswith("{"):
            try:
                mapping.update({str(k): str(v) for k, v in json.loads(text).items()})
            except (ValueError, AttributeError) as exc:
                raise CommandError(f"{path} is not a JSON object: {exc}") from exc
        else:
            lines = [ln.strip() for ln in text.splitlines()
                     if ln.strip() and not ln.strip().startswith("#")]
            mapping.update(parse_pairs(lines, str(path)))
    mapping.update(parse_pairs(options["map_queue"], "--map-queue"))
    return mapping


def run_import(command: BaseCommand, source: SourceReader, options: dict) -> ImportRun:
    """Run the loader with the command's options and print the summary and problems."""
    if options["chunk_size"] < 1:
        raise CommandError("--chunk-size must be at least 1.")
    opts = Options(name=options["name"], chunk_size=options["chunk_size"],
                   queue_map=queue_map(options), rollup=not options["no_rollup"],
                   progress=not options["no_progress"], fast_load=options["fast_load"])
    loader = Loader(source, opts, out=lambda line: command.stdout.write(line))
    began = time.perf_counter()
    try:
        run = loader.run()
    except KeyboardInterrupt:
        command.stderr.write("Interrupted. Everything up to the last completed chunk is "
                             "saved: run the same command again to resume.")
        raise SystemExit(130) from None
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    elapsed = time.perf_counter() - began
    report(command, run, elapsed, options.get("report"))
    return run


def report(command: BaseCommand, run: ImportRun, elapsed: float, path: Path | None) -> None:
    out = command.stdout
    out.write(f"Import from {run.source} finished in {elapsed:.1f}s (run {run.pk}).")
    for line in summary_lines(run.counts):
        out.write(line)
    tickets = run.counts.get("tickets", {})
    written = tickets.get("new", 0) + tickets.get("changed", 0)
    if written and elapsed > 0:
        rows = written + run.counts.get("messages", {}).get("new", 0) \
            + run.counts.get("audit events", {}).get("new", 0)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out.write(f"  {written / elapsed:,.0f} tickets/s, {rows / elapsed:,.0f} rows/s "
                  f"(tickets, messages, audit events); peak memory {peak:,.0f} MB")
    problems = ImportProblem.objects.filter(run=run)
    count = problems.count()
    if not count:
        out.write("Every row was imported.")
    else:
        out.write(command.style.WARNING(f"{count:,} rows could not be imported (the rest was):"))
        for p in problems[:SHOWN_PROBLEMS]:
            out.write(f"  {p.kind} {p.source_key}: {p.reason}"
                      + (f" ({p.detail})" if p.detail else ""))
        if count > SHOWN_PROBLEMS:
            out.write(f"  … and {count - SHOWN_PROBLEMS:,} more"
                      + ("" if path else " (--report FILE lists them all)"))
    if path is not None:
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["kind", "source id", "source ticket", "reason", "detail"])
            for p in problems.iterator():
                writer.writerow([p.kind, p.source_key, p.ticket_key or "", p.reason, p.detail])
        out.write(f"Report written to {path}.")

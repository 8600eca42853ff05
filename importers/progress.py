"""Progress of a long import on the terminal (tqdm), and the closing summary."""
from __future__ import annotations

import sys

from tqdm import tqdm


class Progress:
    def __init__(self, total: int, unit: str, *, enabled: bool = True) -> None:
        self.bar = tqdm(total=total, unit=f" {unit}", file=sys.stderr,
                        disable=not enabled, dynamic_ncols=True, smoothing=0.1,
                        mininterval=0.5 if sys.stderr.isatty() else 10.0)

    def update(self, n: int, *, problems: int = 0) -> None:
        if problems:
            self.bar.set_postfix(problems=problems, refresh=False)
        self.bar.update(n)

    def close(self) -> None:
        self.bar.close()


def summary_lines(counts: dict[str, dict[str, int]]) -> list[str]:
    """One line per kind: 'tickets      new 1,000 · changed 2 · unchanged 5'."""
    width = max((len(kind) for kind in counts), default=0)
    lines = []
    for kind, outcomes in counts.items():
        parts = " · ".join(f"{outcome} {n:,}" for outcome, n in outcomes.items() if n)
        lines.append(f"  {kind.ljust(width)}  {parts or 'nothing'}")
    return lines

"""The record of what was imported: source key → row here, with the digest last seen."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from helpdesk.bulkload import RowWriter

from .models import ImportedRecord

# Keys per IN (...) list: well under SQLite's limit on query parameters.
IN_BATCH = 500


class RecordBook:
    def __init__(self, source_id: int, writer: RowWriter) -> None:
        self.source_id = source_id
        self.writer = writer
        self._fresh: dict[str, bool] = {}

    def _rows(self, kind: str):
        return ImportedRecord.objects.filter(source_id=self.source_id, kind=kind)

    def fresh(self, kind: str) -> bool:
        """True when nothing of this kind was imported before this run: no look-ups needed
        (rows this run writes are never looked up again by it)."""
        if kind not in self._fresh:
            self._fresh[kind] = not self._rows(kind).exists()
        return self._fresh[kind]

    def all(self, kind: str) -> dict[int, tuple[int, int | None]]:
        return {key: (target, digest) for key, target, digest in
                self._rows(kind).values_list("source_key", "target_id", "digest")}

    def lookup(self, kind: str, keys: Sequence[int], *, this_run: bool = False
               ) -> dict[int, tuple[int, int | None]]:
        """Records of these source keys ({} at once when the kind is fresh, unless rows
        written by this run are wanted too)."""
        if not keys or (not this_run and self.fresh(kind)):
            return {}
        found: dict[int, tuple[int, int | None]] = {}
        lo, hi = min(keys), max(keys)
        if len(keys) * 2 >= hi - lo + 1:  # mostly contiguous: one range scan
            rows = self._rows(kind).filter(source_key__gte=lo, source_key__lte=hi)
            wanted = set(keys)
            for key, target, dig in rows.values_list("source_key", "target_id", "digest"):
                if key in wanted:
                    found[key] = (target, dig)
            return found
        keys = list(keys)
        for i in range(0, len(keys), IN_BATCH):
            rows = self._rows(kind).filter(source_key__in=keys[i:i + IN_BATCH])
            for key, target, dig in rows.values_list("source_key", "target_id", "digest"):
                found[key] = (target, dig)
        return found

    def add(self, kind: str, rows: Iterable[tuple[int, int, int | None]]) -> None:
        """Record (source key, target id, digest) rows (COPY on PostgreSQL)."""
        rows = [(self.source_id, kind, key, target, dig) for key, target, dig in rows]
        self.writer.write(ImportedRecord,
                          ("source_id", "kind", "source_key", "target_id", "digest"), rows)

    def set_digest(self, kind: str, key: int, dig: int | None) -> None:
        self._rows(kind).filter(source_key=key).update(digest=dig)

    def retarget(self, kind: str, key: int, target: int) -> None:
        self._rows(kind).filter(source_key=key).update(target_id=target)

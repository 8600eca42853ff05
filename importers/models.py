"""What was imported from where: sources, runs, the source id of every row, problems."""
from __future__ import annotations

from django.db import models


class SourceKind(models.TextChoices):
    DJANGO_HELPDESK = "django_helpdesk", "django-helpdesk"
    ZENDESK = "zendesk", "Zendesk export"


class Source(models.Model):
    """One system a team imports from (a django-helpdesk database, a Zendesk export)."""

    name = models.CharField(max_length=100, unique=True,
                            help_text="Identifies the source across runs, e.g. django-helpdesk.")
    kind = models.CharField(max_length=20, choices=SourceKind.choices)
    location = models.CharField(max_length=500, blank=True,
                                help_text="Where the last run read from (no password).")
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"
    INTERRUPTED = "interrupted", "Interrupted"
    FAILED = "failed", "Failed"


class ImportRun(models.Model):
    """One run of an importer: when, how far it got, and what it counted per kind."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="runs")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=RunStatus.choices,
                              default=RunStatus.RUNNING)
    # {"tickets": {"new": 10, "changed": 1, "unchanged": 5, "failed": 0}, ...}
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.source} {self.started_at:%Y-%m-%d %H:%M} ({self.status})"


class ImportedRecord(models.Model):
    """A source row and the row it became here: a second run skips what it finds unchanged
    (same digest), updates what changed and inserts only what is new."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20)
    source_key = models.BigIntegerField(help_text="The row's id in the source.")
    target_id = models.BigIntegerField(help_text="The row's id here (0: folded into another).")
    # A hash of the source row's content as last imported (None: never changes).
    digest = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "kind", "source_key"],
                                    name="imported_record_source_id"),
        ]
        indexes = [models.Index(fields=["kind", "target_id"], name="imported_record_target")]

    def __str__(self) -> str:
        return f"{self.kind} {self.source_key} → {self.target_id}"


class ImportProblem(models.Model):
    """A source row a run could not import, and why; the import went on without it."""

    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="problems")
    kind = models.CharField(max_length=20)
    source_key = models.CharField(max_length=100, blank=True)
    # The source ticket the row belongs to: the next run reads that ticket again.
    ticket_key = models.BigIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=255)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["run", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.source_key}: {self.reason}"

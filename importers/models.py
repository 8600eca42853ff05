"""What was imported from where: sources, runs, the source id of every row, problems."""
from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SourceKind(models.TextChoices):
    DJANGO_HELPDESK = "django_helpdesk", _("django-helpdesk")
    ZENDESK = "zendesk", _("Zendesk export")


class Source(models.Model):
    """One system a team imports from (a django-helpdesk database, a Zendesk export)."""

    name = models.CharField(max_length=100, unique=True,
                            help_text=_("Identifies the source across runs, e.g. django-helpdesk."),
                            verbose_name=_("name"))
    kind = models.CharField(max_length=20, choices=SourceKind.choices, verbose_name=_("kind"))
    location = models.CharField(max_length=500, blank=True,
                                help_text=_("Where the last run read from (no password)."),
                                verbose_name=_("location"))
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        verbose_name = _("source")
        verbose_name_plural = _("sources")

    def __str__(self) -> str:
        return self.name


class RunStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    FINISHED = "finished", _("Finished")
    INTERRUPTED = "interrupted", _("Interrupted")
    FAILED = "failed", _("Failed")


class ImportRun(models.Model):
    """One run of an importer: when, how far it got, and what it counted per kind."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="runs",
                               verbose_name=_("source"))
    started_at = models.DateTimeField(verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    status = models.CharField(max_length=12, choices=RunStatus.choices,
                              default=RunStatus.RUNNING, verbose_name=_("status"))
    # {"tickets": {"new": 10, "changed": 1, "unchanged": 5, "failed": 0}, ...}
    counts = models.JSONField(default=dict, blank=True, verbose_name=_("counts"))
    error = models.TextField(blank=True, verbose_name=_("error"))

    class Meta:
        verbose_name = _("import run")
        verbose_name_plural = _("import runs")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.source} {self.started_at:%Y-%m-%d %H:%M} ({self.get_status_display()})"


class ImportedRecord(models.Model):
    """A source row and the row it became here: a second run skips what it finds unchanged
    (same digest), updates what changed and inserts only what is new."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+",
                               verbose_name=_("source"))
    kind = models.CharField(max_length=20, verbose_name=_("kind"))
    source_key = models.BigIntegerField(help_text=_("The row's id in the source."),
                                        verbose_name=_("source key"))
    target_id = models.BigIntegerField(help_text=_("The row's id here (0: folded into another)."),
                                       verbose_name=_("target id"))
    # A hash of the source row's content as last imported (None: never changes).
    digest = models.BigIntegerField(null=True, blank=True, verbose_name=_("digest"))

    class Meta:
        verbose_name = _("imported record")
        verbose_name_plural = _("imported records")
        constraints = [
            models.UniqueConstraint(fields=["source", "kind", "source_key"],
                                    name="imported_record_source_id"),
        ]
        indexes = [models.Index(fields=["kind", "target_id"], name="imported_record_target")]

    def __str__(self) -> str:
        return f"{self.kind} {self.source_key} → {self.target_id}"


class ImportProblem(models.Model):
    """A source row a run could not import, and why; the import went on without it."""

    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="problems",
                            verbose_name=_("run"))
    kind = models.CharField(max_length=20, verbose_name=_("kind"))
    source_key = models.CharField(max_length=100, blank=True, verbose_name=_("source key"))
    # The source ticket the row belongs to: the next run reads that ticket again.
    ticket_key = models.BigIntegerField(null=True, blank=True, verbose_name=_("ticket key"))
    reason = models.CharField(max_length=255, verbose_name=_("reason"))
    detail = models.TextField(blank=True, verbose_name=_("detail"))

    class Meta:
        verbose_name = _("import problem")
        verbose_name_plural = _("import problems")
        ordering = ["run", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.source_key}: {self.reason}"

"""A migration operation for label changes: many fields at once, nothing for the database."""
from __future__ import annotations

from typing import Any

from django.db.migrations.operations import AlterField, AlterModelOptions
from django.db.migrations.operations.base import Operation
from django.db.migrations.operations.special import SeparateDatabaseAndState
from django.db.migrations.state import ProjectState
from django.db.models import Field

# What AlterLabels may change: the words people read, never the schema.
LABEL_ATTRS = frozenset({"verbose_name", "help_text", "choices"})


class AlterLabels(SeparateDatabaseAndState):
    """AlterModelOptions and AlterField operations that change only verbose names, help
    texts and choice labels, applied to the migration state in one step.

    After each AlterField Django renders the model again together with every model related
    to it; with Ticket related to most of the schema that costs 0.2–0.4 s per field, minutes
    for the few hundred labels of issue 22 on every migrate (the test database's included).
    Labels change no relation, so the rendered models are dropped once and rendered again,
    from the changed model states, when next needed. No SQL either way.
    """

    def __init__(self, operations: list[Operation]) -> None:
        for op in operations:
            if not isinstance(op, AlterField | AlterModelOptions):
                raise TypeError(f"AlterLabels takes AlterField and AlterModelOptions, not {op!r}")
        super().__init__(state_operations=operations)

    serialization_expand_args = ["operations"]

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return self.__class__.__qualname__, [], {"operations": self.state_operations}

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        for op in self.state_operations:
            if isinstance(op, AlterField):
                before = state.models[app_label, op.model_name_lower].fields[op.name]
                if _schema(before) != _schema(op.field):
                    raise ValueError(f"AlterLabels changes labels only, not the column: "
                                     f"{app_label}.{op.model_name}.{op.name}")
        state.__dict__.pop("apps", None)  # rendered again on first use (ProjectState.apps)
        super().state_forwards(app_label, state)

    def describe(self) -> str:
        return f"Labels of {len(self.state_operations)} fields and models (no SQL)"


def _schema(field: Field) -> tuple[str, list[Any], dict[str, Any]]:
    _name, path, args, kwargs = field.deconstruct()
    return path, args, {k: v for k, v in kwargs.items() if k not in LABEL_ATTRS}

"""AlterLabels: the label migrations of issue 22 give the same state as plain AlterField
operations, render the models once, and refuse anything that would touch a column."""
from __future__ import annotations

import pytest
from django.db import models
from django.db.migrations import AlterField, AlterModelOptions, RunPython
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ProjectState

from helpdesk.migration_ops import AlterLabels

LABELS = ("tickets", "0022_translatable_labels")


@pytest.fixture(scope="module")
def before():
    """The rendered state just before the tickets label migration, and that migration."""
    loader = MigrationLoader(None)  # the files only, no database
    state = loader.project_state([LABELS], at_end=False)
    state.apps  # rendered, as the executor has it between migrations
    return state, loader.get_migration(*LABELS)


def test_the_same_state_as_the_plain_operations(before):
    state, migration = before
    [batch] = migration.operations
    plain, batched = state.clone(), state.clone()
    for op in batch.state_operations:
        op.state_forwards("tickets", plain)
    batch.state_forwards("tickets", batched)
    assert batched.models == plain.models
    ticket = batched.apps.get_model("tickets", "Ticket")
    assert ticket._meta.verbose_name == "ticket"
    assert ticket._meta.get_field("assignee").verbose_name == "assignee"
    assert ticket._meta.get_field("assignee").remote_field.model is \
        batched.apps.get_model("helpdesk", "User")


def test_the_models_are_rendered_once_not_per_field(before, monkeypatch):
    state, migration = before
    [batch] = migration.operations
    batched, plain = state.clone(), state.clone()
    reloads = []
    monkeypatch.setattr(ProjectState, "_reload", lambda self, related: reloads.append(related))
    batch.state_forwards("tickets", batched)
    assert reloads == [] and "apps" not in batched.__dict__  # rendered again on first use
    [assignee] = [op for op in batch.state_operations
                  if isinstance(op, AlterField) and op.name == "assignee"]
    assignee.state_forwards("tickets", plain)
    # One plain AlterField of a foreign key renders the ticket and what relates to it.
    assert len(reloads) == 1 and len(reloads[0]) > 20, reloads


def test_a_column_change_is_refused(before):
    state, _migration = before
    wider = AlterField("ticket", "subject", models.CharField(max_length=300,
                                                             verbose_name="subject"))
    with pytest.raises(ValueError, match="labels only"):
        AlterLabels([wider]).state_forwards("tickets", state.clone())
    with pytest.raises(TypeError):
        AlterLabels([RunPython(RunPython.noop)])


def test_options_and_fields_only_and_it_deconstructs_for_the_writer():
    ops = [AlterModelOptions("tag", {"verbose_name": "tag"})]
    name, args, kwargs = AlterLabels(ops).deconstruct()
    assert (name, args, kwargs) == ("AlterLabels", [], {"operations": ops})

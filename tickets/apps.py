from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _seed_taxonomy(sender: AppConfig, **kwargs: Any) -> None:
    from .defaults import seed_default_taxonomy

    seed_default_taxonomy(sender.get_model("Category"), sender.get_model("ProductArea"))


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = _("Tickets")

    def ready(self) -> None:
        # Restores defaults on an empty database, e.g. after a test flush.
        post_migrate.connect(_seed_taxonomy, sender=self, dispatch_uid="tickets.seed_taxonomy")
        # A table rebuild on SQLite drops the change-log triggers; put them back.
        from .changes import reinstall_sqlite_triggers

        post_migrate.connect(reinstall_sqlite_triggers, sender=self,
                             dispatch_uid="tickets.change_triggers")
        # Cached picker choices of reference tables are dropped when a row changes.
        from django.db.models.signals import post_delete, post_save

        from helpdesk.models import Team

        from .models import Category, ProductArea
        from .widgets import forget_choices

        for model in (Team, Category, ProductArea):
            for signal in (post_save, post_delete):
                signal.connect(forget_choices, sender=model,
                               dispatch_uid=f"tickets.choices.{model.__name__}.{signal}")
        # Satisfaction surveys: scheduled on resolution, shown in a ticket-page panel.
        from . import survey_handlers

        survey_handlers.connect()
        # The custom fields card of the agent ticket page.
        from . import custom_field_panel

        custom_field_panel.connect()
        # Staff notices (assigned, customer answered, mentions, following, escalations).
        from . import staff_notices

        staff_notices.connect()
        # Triggers, automations, the default team and the names rules use are held per
        # process (every write reads them); a change drops every copy.
        from helpdesk import config_cache

        from . import events
        from .models import (
            Automation,
            CustomField,
            Macro,
            TicketForm,
            TicketFormField,
            Trigger,
        )

        config_cache.forget_on_change(
            (Trigger, Automation, Team, Category, ProductArea, CustomField, TicketForm,
             TicketFormField, Macro), uid="tickets.config")
        # Triggers and automations: tickets' own conditions and actions (apps above add
        # theirs), the triggers run at the end of each write, before its handlers.
        from .rules import core, engine, many, runner

        core.register()
        engine.register_later(runner.after_create)
        # Batch writes (bulk bar, incident fan-outs) run them set-wise.
        events.register_before_publish(runner.on_write, many=many.on_batch_write)
        # Deferred event handlers run on a worker, from the outbox.
        from . import tasks

        events.register_queue(tasks.handle_pending_events)

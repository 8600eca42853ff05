from importlib import import_module
from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _seed_defaults(sender: AppConfig, **kwargs: Any) -> None:
    from django.apps import apps

    from .defaults import seed_default_sla

    seed_default_sla(apps)


class SlaConfig(AppConfig):
    name = "sla"
    verbose_name = _("SLA")

    def ready(self) -> None:
        # Restores the default policy on an empty database, e.g. after a test flush.
        post_migrate.connect(_seed_defaults, sender=self, dispatch_uid="sla.seed_defaults")
        # Clocks follow the tickets' domain events (tickets never imports sla).
        from . import handlers

        handlers.connect()
        from tickets import deadlines

        from .selectors import first_response_due

        deadlines.register_first_response_due(first_response_due)  # the customer's ack
        import_module("sla.panels").register_all()  # the SLA panel of the agent ticket page
        # SLA state and business hours for triggers and automations.
        import_module("sla.rules").register()
        from django.db.models.signals import post_delete, post_save

        from helpdesk import config_cache

        from .models import (
            BusinessHours,
            Calendar,
            Holiday,
            Level,
            Override,
            Policy,
            Target,
            TierMultiplier,
        )
        from .signals import touch_calendar

        # Policies, targets, levels and calendars are held per process (every write
        # reads them); a change anywhere drops every copy.
        config_cache.forget_on_change(
            (Policy, Target, Level, TierMultiplier, Override, Calendar, BusinessHours,
             Holiday), uid="sla.config")
        # Calendar.business_calendar() caches by updated_at; child rows must bump it.
        for model in (BusinessHours, Holiday):
            for signal in (post_save, post_delete):
                signal.connect(touch_calendar, sender=model,
                               dispatch_uid=f"sla.touch_calendar.{model.__name__}.{signal}")

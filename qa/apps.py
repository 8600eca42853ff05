from importlib import import_module
from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _seed_defaults(sender: AppConfig, **kwargs: Any) -> None:
    from django.apps import apps

    from .defaults import seed_default_scorecard

    seed_default_scorecard(apps)


class QaConfig(AppConfig):
    name = "qa"
    verbose_name = _("Quality assurance")

    def ready(self) -> None:
        # Restores the default scorecard on an empty database, e.g. after a test flush.
        post_migrate.connect(_seed_defaults, sender=self, dispatch_uid="qa.seed_defaults")
        import_module("qa.panels").register_all()  # QA reviews on the agent ticket page

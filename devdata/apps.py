from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _


class DevdataConfig(AppConfig):
    name = "devdata"
    verbose_name = _("Development data")

    def ready(self) -> None:
        # Each app's `devdata.py` registers its generator (helpdesk.generators); nothing
        # below this app imports it, and production code never loads the generators.
        autodiscover_modules("devdata")
        # The tickets app's side tables (surveys, time entries): contributed from here.
        from . import ticket_history  # noqa: F401

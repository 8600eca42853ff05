from importlib import import_module

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CaseworkConfig(AppConfig):
    name = "casework"
    verbose_name = _("Technical casework")

    def ready(self) -> None:
        # At-risk signals follow the tickets' domain events (tickets never imports casework).
        from . import handlers

        handlers.connect()
        import_module("casework.panels").register_all()  # investigation panel on the ticket

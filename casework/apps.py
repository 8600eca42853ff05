from importlib import import_module

from django.apps import AppConfig


class CaseworkConfig(AppConfig):
    name = "casework"
    verbose_name = "Technical casework"

    def ready(self) -> None:
        # At-risk signals follow the tickets' domain events (tickets never imports casework).
        from . import handlers

        handlers.connect()
        import_module("casework.panels").register_all()  # investigation panel on the ticket

from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self) -> None:
        from . import handlers

        handlers.connect()  # ticket events become webhook events (tickets never imports us)

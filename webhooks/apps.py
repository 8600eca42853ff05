from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self) -> None:
        from helpdesk import audit

        from . import handlers

        handlers.connect()  # ticket events become webhook events (tickets never imports us)
        # Endpoints are admin policy: audited like the others, never with their secret.
        audit.register("webhooks.Endpoint",
                       ("name", "url", "events", "timeout_seconds", "is_active"))

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = _("Webhooks")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from helpdesk import audit

        from . import handlers
        from .models import Endpoint
        from .subscriptions import forget_subscriptions

        handlers.connect()  # ticket events become webhook events (tickets never imports us)
        from . import rules

        rules.register()  # triggers and automations may call an endpoint
        for signal in (post_save, post_delete):
            signal.connect(forget_subscriptions, sender=Endpoint,
                           dispatch_uid=f"webhooks.forget_subscriptions.{signal}")
        # Endpoints are admin policy: audited like the others, never with their secret.
        audit.register("webhooks.Endpoint",
                       ("name", "url", "events", "timeout_seconds", "is_active"))

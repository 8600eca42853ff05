from importlib import import_module
from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _seed_defaults(sender: AppConfig, **kwargs: Any) -> None:
    from django.apps import apps

    from .defaults import seed_default_severities

    seed_default_severities(apps)


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = _("Incidents")

    def ready(self) -> None:
        # Restores the default severities on an empty database, e.g. after a test flush.
        post_migrate.connect(_seed_defaults, sender=self,
                             dispatch_uid="incidents.seed_defaults")
        import_module("incidents.handlers").connect()  # suggested links for new tickets
        import_module("incidents.panels").register_all()  # banner on the ticket page
        from mailgate import notices

        # Updates reach customers in one e-mail each, not as one reply e-mail per ticket.
        customer_mail = import_module("incidents.customer_mail")
        notices.register_suppressor(customer_mail.told_by_incident,
                                    many=customer_mail.told_by_incident_many)
        from tickets import bulk_actions, timeline

        # The cascade's reason on each moved ticket ("INC-27 resolved"), read translated.
        timeline.register_note_reader(import_module("incidents.entries").ticket_note_text)

        bulk_actions.register(bulk_actions.BulkAction(
            "declare_incident", _("Declare incident from selected"),
            url_name="incidents:bulk_declare", permission="incidents.declare_incident"))

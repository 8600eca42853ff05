from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportingConfig(AppConfig):
    name = "reporting"
    verbose_name = _("Reporting")

    def ready(self) -> None:
        # A repair of SLA clocks refreshes the rollup hours it changed (sla never imports
        # reporting: it calls what is registered here).
        from sla import hooks

        from . import handlers, rollups

        hooks.on_clock_hours_corrected(rollups.refresh_covered)
        # Edits the rollup's scan of recent rows cannot see mark their hours stale.
        handlers.connect()

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkforceConfig(AppConfig):
    name = "workforce"
    verbose_name = _("Workforce")

    def ready(self) -> None:
        # Routing honours schedules, time off and status without tickets importing us.
        from tickets.assignment import register_availability_filter

        from . import handlers
        from .selectors import available_members

        register_availability_filter(available_members)
        # The capacity rollup hears of time entries and deleted tickets.
        handlers.connect()

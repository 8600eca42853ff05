from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class DevdataConfig(AppConfig):
    name = "devdata"
    # Not marked for translation: the app has no models, so no page shows this name, and
    # makemessages skips devdata/ (its seeding and benchmark tools speak to developers).
    verbose_name = "Development data"

    def ready(self) -> None:
        # Each app's `devdata.py` registers its generator (helpdesk.generators); nothing
        # below this app imports it, and production code never loads the generators.
        autodiscover_modules("devdata")
        # The tickets app's side tables (surveys, time entries): contributed from here.
        from . import ticket_history  # noqa: F401

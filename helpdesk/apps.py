from django.apps import AppConfig
from django.db.models.signals import post_migrate


class HelpdeskConfig(AppConfig):
    name = "helpdesk"
    verbose_name = "Identity"

    def ready(self) -> None:
        from . import roles

        # Runs after every app's permissions exist, including after test flushes.
        post_migrate.connect(roles.sync_roles_after_migrate, dispatch_uid="helpdesk.sync_roles")

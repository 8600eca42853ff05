from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class HelpdeskConfig(AppConfig):
    name = "helpdesk"
    verbose_name = _("Identity")

    def ready(self) -> None:
        from django.db.models.signals import m2m_changed, post_delete, post_save

        # Policies and people: every change goes to the audit log (issue 24).
        from . import audit, lookups, roles, selectors
        from .models import User

        audit.register_defaults()
        from . import admin_audit

        admin_audit.register()

        # A number past an integer column's range matches no row instead of crashing.
        lookups.register()

        # Runs after every app's permissions exist, including after test flushes.
        post_migrate.connect(roles.sync_roles_after_migrate, dispatch_uid="helpdesk.sync_roles")
        # Agent pickers are cached; any change to users or their roles refreshes them.
        for signal in (post_save, post_delete):
            signal.connect(selectors.forget_agent_choices, sender=User,
                           dispatch_uid=f"helpdesk.agent_choices.{signal}")
        m2m_changed.connect(selectors.forget_agent_choices, sender=User.groups.through,
                            dispatch_uid="helpdesk.agent_choices.groups")
        # Cached permission sets follow every change of roles or permissions.
        from django.contrib.auth.models import Group

        from .auth import forget_permissions

        for through in (User.groups.through, User.user_permissions.through,
                        Group.permissions.through):
            m2m_changed.connect(forget_permissions, sender=through,
                                dispatch_uid=f"helpdesk.perms.{through.__name__}")

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailgateConfig(AppConfig):
    name = "mailgate"
    verbose_name = _("Email channel")

    def ready(self) -> None:
        # tickets and helpdesk never import mailgate: it subscribes and registers here.
        from helpdesk import mail

        from . import handlers, outbound, panels, send_queue, tasks

        handlers.connect()
        send_queue.register(tasks.send_outbound_email)
        panels.register_all()
        mail.register(outbound.enrich_outgoing)
        from . import rules

        rules.register()  # "e-mail the requester from a template" for triggers
        from tickets.views import portal

        portal.register_portal_link(_("E-mail preferences"), "mailgate:preferences")

from importlib import import_module

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KnowledgeConfig(AppConfig):
    name = "knowledge"
    verbose_name = _("Knowledge base")

    def ready(self) -> None:
        # A filed ticket is attributed to the requester's help-center visit (tickets never
        # imports knowledge); the panel adds suggested articles to the agent ticket page.
        import_module("knowledge.handlers").connect()
        import_module("knowledge.panels").register_all()
        import_module("knowledge.portal").register_all()
        from django.db.models.signals import post_delete, post_save

        from .models import Synonym
        from .search import forget_synonyms

        for signal in (post_save, post_delete):
            signal.connect(lambda **kw: forget_synonyms(), sender=Synonym, weak=False,
                           dispatch_uid=f"knowledge.synonyms.{signal}")

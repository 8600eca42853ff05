"""The Celery application; schedules are declared once, in settings.CELERY_BEAT_SCHEDULE."""
import logging
import os

from celery import Celery
from celery.worker.consumer import Consumer

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

logger = logging.getLogger(__name__)


class BrokerLossConsumer(Consumer):
    """Celery's task consumer, which keeps the worker alive when Redis dies mid-poll.

    When the broker goes away while a BRPOP is outstanding, Celery 5.7 first collects the
    broken connection (its channel fails to close and the transport is detached), then
    closes it again; kombu's Redis channel then retries its restore of unacknowledged
    messages without a transport and raises AttributeError. Only connection errors are
    ignored there, so the worker stopped with "Unrecoverable error" and, without a
    supervisor, never came back. The connection is already discarded at that point and
    the messages stay in Redis's unacked set (restored after the visibility timeout), so
    the worker just goes on to reconnect.
    """

    def on_connection_error_after_connected(self, exc: Exception) -> None:
        try:
            super().on_connection_error_after_connected(exc)
        except AttributeError:
            if self.connection is not None:  # not the close of the discarded connection
                raise
            logger.warning("Broker connection lost while its channel was closing; "
                           "reconnecting", exc_info=True)


app = Celery("helpdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

"""Markers that a delivery's or a cascade move's after-commit handlers have run."""
from django.db import migrations, models
from django.db.models import F


def mark_existing(apps, schema_editor):
    # Rows written before the markers existed are taken as handled: nothing is replayed.
    apps.get_model("incidents", "UpdateDelivery").objects.update(dispatched_at=F("created_at"))
    apps.get_model("incidents", "IncidentTicket").objects.filter(
        cascaded_at__isnull=False).update(cascade_dispatched_at=F("cascaded_at"))


class Migration(migrations.Migration):
    dependencies = [("incidents", "0002_default_severities")]
    operations = [
        migrations.AddField(
            model_name="incidentticket", name="cascade_dispatched_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="updatedelivery", name="dispatched_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(mark_existing, migrations.RunPython.noop),
    ]

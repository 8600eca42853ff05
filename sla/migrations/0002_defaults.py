from django.db import migrations

from sla.defaults import seed_default_sla


def seed(apps, schema_editor):
    seed_default_sla(apps)


class Migration(migrations.Migration):
    dependencies = [("sla", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]

from django.db import migrations


def seed(apps, schema_editor):
    from incidents.defaults import seed_default_severities

    seed_default_severities(apps)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]

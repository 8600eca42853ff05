from django.db import migrations

from qa.defaults import seed_default_scorecard


def seed(apps, schema_editor):
    seed_default_scorecard(apps)


class Migration(migrations.Migration):
    dependencies = [("qa", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]

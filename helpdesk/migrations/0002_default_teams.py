from django.db import migrations

from helpdesk.defaults import seed_default_teams


def seed(apps, schema_editor):
    seed_default_teams(apps.get_model("helpdesk", "Team"))


class Migration(migrations.Migration):
    dependencies = [("helpdesk", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]

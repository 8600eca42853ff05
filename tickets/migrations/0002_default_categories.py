from django.db import migrations

from tickets.defaults import seed_default_taxonomy


def seed(apps, schema_editor):
    seed_default_taxonomy(apps.get_model("tickets", "Category"),
                          apps.get_model("tickets", "ProductArea"))


class Migration(migrations.Migration):
    dependencies = [("tickets", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]

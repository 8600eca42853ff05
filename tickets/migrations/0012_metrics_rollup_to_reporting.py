# The metrics rollup models moved to the reporting app (issue 26). State only: the tables
# stay where they are, and reporting's first migration takes them over under their names.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('tickets', '0011_ticket_follower'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='MetricsHour'),
                migrations.DeleteModel(name='MetricsRollupState'),
            ],
            database_operations=[],
        ),
    ]

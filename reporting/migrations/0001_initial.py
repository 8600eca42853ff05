# Takes over the rollup tables tickets created (tickets 0007), without copying a row:
# state only, the same db_table (issue 26).

from django.db import migrations, models

MODELS = ("metricshour", "metricsrollupstate")


def _relabel(apps, schema_editor, old: str, new: str) -> None:
    # The content types (and the admin permissions hanging on them) follow the models.
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.using(schema_editor.connection.alias).filter(
        app_label=old, model__in=MODELS).update(app_label=new)


def forwards(apps, schema_editor) -> None:
    _relabel(apps, schema_editor, "tickets", "reporting")


def backwards(apps, schema_editor) -> None:
    _relabel(apps, schema_editor, "reporting", "tickets")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('tickets', '0012_metrics_rollup_to_reporting'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='MetricsHour',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('hour', models.DateTimeField(help_text='Start of the UTC hour.')),
                        ('team_id', models.PositiveIntegerField(default=0)),
                        ('created', models.PositiveIntegerField(default=0)),
                        ('responded', models.PositiveIntegerField(default=0)),
                        ('frt_seconds', models.BigIntegerField(default=0)),
                        ('escalated', models.PositiveIntegerField(default=0)),
                        ('resolved', models.PositiveIntegerField(default=0)),
                        ('ttr_seconds', models.BigIntegerField(default=0)),
                        ('fcr', models.PositiveIntegerField(default=0)),
                        ('reopened', models.PositiveIntegerField(default=0)),
                        ('tracked', models.PositiveIntegerField(default=0)),
                        ('handle_minutes', models.BigIntegerField(default=0)),
                        ('responses', models.PositiveIntegerField(default=0)),
                        ('satisfied', models.PositiveIntegerField(default=0)),
                        ('nps_responses', models.PositiveIntegerField(default=0)),
                        ('promoters', models.PositiveIntegerField(default=0)),
                        ('detractors', models.PositiveIntegerField(default=0)),
                        ('sla_met', models.PositiveIntegerField(default=0)),
                        ('sla_breached', models.PositiveIntegerField(default=0)),
                        ('backlog', models.PositiveIntegerField(default=0)),
                        ('refreshed_at', models.DateTimeField()),
                    ],
                    options={
                        'db_table': 'tickets_metricshour',
                        'constraints': [models.UniqueConstraint(fields=('hour', 'team_id'), name='metrics_hour_team')],
                    },
                ),
                migrations.CreateModel(
                    name='MetricsRollupState',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('covered_from', models.DateTimeField(blank=True, null=True)),
                        ('covered_to', models.DateTimeField(blank=True, null=True)),
                        ('synced_at', models.DateTimeField(blank=True, null=True)),
                        ('rebuilt_at', models.DateTimeField(blank=True, null=True)),
                    ],
                    options={
                        'db_table': 'tickets_metricsrollupstate',
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(forwards, backwards),
    ]

"""One analysis for both search backends (issue #29): the vocabulary table (spelling
corrections, completions), the FTS5 table rebuilt without FTS5's own stemmer (the terms
are stemmed by knowledge.analysis before they reach it), a trigram index on the vocabulary
on PostgreSQL, every article re-indexed, and the shipped synonym groups for compounds."""
from django.db import migrations, models

FTS = "knowledge_article_fts"
SYNONYMS = ["e-mail, email", "sign in, signin, sign-in, log in, login, log-in",
            "two-factor, 2fa, two factor, mfa", "sign out, signout, log out, logout"]


def forward(apps, schema_editor):
    conn = schema_editor.connection
    with conn.cursor() as cur:
        if conn.vendor == "sqlite":
            cur.execute(f"DROP TABLE IF EXISTS {FTS}")
            cur.execute(f"CREATE VIRTUAL TABLE {FTS} USING fts5(title, summary, body, tags, "
                        "tokenize='unicode61 remove_diacritics 2')")
        elif conn.vendor == "postgresql":
            cur.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            cur.execute("CREATE INDEX IF NOT EXISTS kb_term_word_trgm ON knowledge_searchterm "
                        "USING gin (word gin_trgm_ops)")
    # The articles are indexed by 0006 (each in its own language), which needs the
    # language column that this migration's code cannot assume yet.
    synonym = apps.get_model("knowledge", "Synonym")
    for terms in SYNONYMS:
        synonym.objects.using(conn.alias).get_or_create(terms=terms)


def backward(apps, schema_editor):
    conn = schema_editor.connection
    with conn.cursor() as cur:
        if conn.vendor == "sqlite":
            cur.execute(f"DROP TABLE IF EXISTS {FTS}")
            cur.execute(f"CREATE VIRTUAL TABLE {FTS} USING fts5(title, summary, body, tags, "
                        "tokenize='porter unicode61 remove_diacritics 2')")
            cur.execute(f"INSERT INTO {FTS} (rowid, title, summary, body, tags) "
                        "SELECT id, title, summary, body, tags FROM knowledge_article")
        elif conn.vendor == "postgresql":
            cur.execute("DROP INDEX IF EXISTS kb_term_word_trgm")


class Migration(migrations.Migration):

    dependencies = [
        ('knowledge', '0003_staff_only_user_fields'),
    ]

    operations = [
        migrations.CreateModel(
            name='SearchTerm',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('word', models.CharField(max_length=40)),
                ('stem', models.CharField(max_length=40)),
                ('audience', models.CharField(choices=[('public', 'Everyone (public)'), ('customers', 'Logged-in customers'), ('internal', 'Internal (agents only)')], max_length=10)),
            ],
            options={
                'indexes': [models.Index(fields=['audience', 'stem'], name='kb_term_stem')],
                'constraints': [models.UniqueConstraint(fields=('audience', 'word'), name='kb_term_unique')],
            },
        ),
        migrations.RunPython(forward, backward),
    ]

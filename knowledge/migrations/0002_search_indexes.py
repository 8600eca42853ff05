"""Vendor-specific search structures: on PostgreSQL the pg_trgm extension, GIN indexes on the
weighted search vectors and a trigram index on titles; on SQLite an FTS5 table."""
from django.db import migrations

PG_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS kb_article_search_gin ON knowledge_article "
    "USING gin (search_vector)",
    "CREATE INDEX IF NOT EXISTS kb_article_head_gin ON knowledge_article "
    "USING gin (head_vector)",
    "CREATE INDEX IF NOT EXISTS kb_article_title_trgm ON knowledge_article "
    "USING gin (lower(title) gin_trgm_ops)",
]
PG_BACKWARD = [
    "DROP INDEX IF EXISTS kb_article_title_trgm",
    "DROP INDEX IF EXISTS kb_article_search_gin",
    "DROP INDEX IF EXISTS kb_article_head_gin",
]
SQLITE_FORWARD = [
    # rowid = knowledge_article.id; kept in sync by knowledge.search.index_article().
    "CREATE VIRTUAL TABLE IF NOT EXISTS knowledge_article_fts USING fts5("
    "title, summary, body, tags, tokenize='porter unicode61 remove_diacritics 2')",
]
SQLITE_BACKWARD = ["DROP TABLE IF EXISTS knowledge_article_fts"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)
    return run


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": PG_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": PG_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        ),
    ]

"""A BRIN index on created_at, PostgreSQL only (SQLite, used by the demo, has no BRIN)."""

from django.db import migrations

INDEX = "execlog_created_brin"
TABLE = "observability_strategyexecutionlog"


def create_brin(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON {TABLE} USING brin (created_at) "
            "WITH (autosummarize = on)"
        )


def drop_brin(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("observability", "0001_initial")]

    operations = [migrations.RunPython(create_brin, drop_brin)]

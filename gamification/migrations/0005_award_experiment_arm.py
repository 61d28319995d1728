"""The experiment arm of an award, and a partial index over the awards that have one.

The award table is the largest one: on PostgreSQL the index is built CONCURRENTLY (hence a
non-atomic migration), so awards keep being written while it is built.
"""

from django.db import migrations, models

INDEX = models.Index(
    condition=models.Q(("experiment_arm__isnull", False)),
    fields=["strategy_id", "created_at"],
    name="award_experiment_time",
)


def index_create(apps, schema_editor):
    award = apps.get_model("gamification", "Award")
    if schema_editor.connection.vendor != "postgresql":
        schema_editor.add_index(award, INDEX)
        return
    sql = str(INDEX.create_sql(award, schema_editor))
    schema_editor.execute(
        sql.replace("CREATE INDEX", "CREATE INDEX CONCURRENTLY IF NOT EXISTS", 1), params=None
    )


def index_drop(apps, schema_editor):
    award = apps.get_model("gamification", "Award")
    if schema_editor.connection.vendor != "postgresql":
        schema_editor.remove_index(award, INDEX)
        return
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX.name}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("gamification", "0004_api_key_rate"),
    ]

    operations = [
        migrations.AddField(
            model_name="award",
            name="experiment_arm",
            field=models.CharField(
                blank=True,
                choices=[("control", "Control (the published version)"), ("candidate", "Candidate")],
                max_length=16,
                null=True,
            ),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="award", index=INDEX)],
            database_operations=[migrations.RunPython(index_create, index_drop)],
        ),
    ]

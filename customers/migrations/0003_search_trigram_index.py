"""A trigram GIN index so substring search ("LIKE '%term%'") uses an index on PostgreSQL
instead of scanning every customer. A no-op on SQLite, where search scans (fine at demo size)."""

from django.db import migrations


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS customer_search_trgm "
        "ON customers_customer USING gin (search_text gin_trgm_ops)"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS customer_search_trgm")


class Migration(migrations.Migration):
    dependencies = [("customers", "0002_stages_and_roles")]

    operations = [migrations.RunPython(create_index, drop_index)]

"""Customer search without a stored search column, served by two indexes on PostgreSQL.

A search for a common term ("smith" among a million customers) walked the (name, id) index in
order and read every customer on the way from the table until a page matched. Now the index
includes email and company, so that walk matches in the index alone (an index-only scan), and
the stored `search_text` column gives way to the expression it held (customers.models.SearchText),
which the trigram GIN index now indexes itself: the same expression in the query and the index.
SQLite builds the plain (name, id) index (`include` is PostgreSQL's) and scans to search.
"""

from django.db import migrations, models


def create_trigram_index(apps, schema_editor):
    # The expression of customers.models.SearchText, as it is now.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        schema_editor.execute(
            "CREATE INDEX customer_search_trgm ON customers_customer "
            "USING gin (lower(name || ' ' || email || ' ' || company) gin_trgm_ops)"
        )


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS customer_search_trgm")


def recreate_old_trigram_index(apps, schema_editor):
    # Going back: 0003's index on the stored column (re-added by reversing RemoveField).
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS customer_search_trgm "
            "ON customers_customer USING gin (search_text gin_trgm_ops)"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0009_inbound_email_answers"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                fields=["name", "id"], include=("email", "company"), name="customer_name_search"
            ),
        ),
        migrations.RemoveIndex(model_name="customer", name="customer_name_id"),
        # Dropping the column drops the old trigram index on it (0003).
        migrations.RunPython(migrations.RunPython.noop, recreate_old_trigram_index),
        migrations.RemoveField(model_name="customer", name="search_text"),
        migrations.RunPython(create_trigram_index, drop_trigram_index),
    ]

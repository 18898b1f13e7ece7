"""A customer's interactions indexed by (customer, id) instead of customer alone.

The customer page asks for the customer's newest interaction id (the timeline's live arrivals):
with the customer-only index PostgreSQL walked the primary key backwards, passing every newer
interaction of every other customer (a second at 10 M interactions for a long-standing
customer). (customer, id) answers in one step and serves every lookup by customer as before.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0010_customer_search_index_only"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="interaction",
            index=models.Index(fields=["customer", "id"], name="interaction_customer_id"),
        ),
        migrations.AlterField(
            model_name="interaction",
            name="customer",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="interactions",
                to="customers.customer",
            ),
        ),
    ]

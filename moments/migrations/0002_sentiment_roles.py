from django.db import migrations

from memorycrm.lib.roles import grant, revoke

# Agents correct labels from the timeline and see the model's status; admins manage models.
AGENT = [
    "moments.view_sentimentmodel",
    "moments.view_sentimentcorrection",
    "moments.add_sentimentcorrection",
    "moments.change_sentimentcorrection",
]
MANAGER = AGENT
ADMIN = MANAGER + [
    "moments.add_sentimentmodel",
    "moments.change_sentimentmodel",
    "moments.delete_sentimentcorrection",
]
GRANTS = {"Agent": AGENT, "Manager": MANAGER, "Admin": ADMIN}


class Migration(migrations.Migration):
    dependencies = [
        ("moments", "0001_initial"),
        ("customers", "0002_stages_and_roles"),
    ]

    operations = [
        migrations.RunPython(
            lambda apps, se: grant(apps, se, GRANTS), lambda apps, se: revoke(apps, se, GRANTS)
        ),
    ]

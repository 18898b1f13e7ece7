from django.db import migrations

from memorycrm.lib.roles import grant, revoke

GRANTS = {"Admin": ["surveys.view_tagweightproposal"]}


class Migration(migrations.Migration):
    dependencies = [("surveys", "0004_tag_weight_proposals")]

    operations = [
        migrations.RunPython(
            lambda apps, se: grant(apps, se, GRANTS), lambda apps, se: revoke(apps, se, GRANTS)
        ),
    ]

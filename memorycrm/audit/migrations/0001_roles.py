from django.db import migrations

from memorycrm.lib.roles import grant, revoke

# Managers and admins read the audit log (read-only: nobody may change or delete entries).
GRANTS = {"Manager": ["auditlog.view_logentry"], "Admin": ["auditlog.view_logentry"]}


class Migration(migrations.Migration):
    dependencies = [
        ("auditlog", "0017_add_actor_email"),
        ("customers", "0002_stages_and_roles"),
    ]

    operations = [
        migrations.RunPython(
            lambda apps, se: grant(apps, se, GRANTS), lambda apps, se: revoke(apps, se, GRANTS)
        ),
    ]

from django.db import migrations

from memorycrm.lib.roles import grant, revoke

STAGES = [
    # (name, slug, order, is_critical, weight)
    ("Onboarding", "onboarding", 10, True, 1.2),
    ("Purchase", "purchase", 20, False, 1.0),
    ("Delivery", "delivery", 30, True, 1.1),
    ("Support", "support", 40, False, 1.0),
    ("Complaint", "complaint", 50, True, 1.5),
    ("Renewal", "renewal", 60, True, 1.3),
]

AGENT = [
    "customers.view_customer",
    "customers.add_customer",
    "customers.change_customer",
    "customers.view_interaction",
    "customers.add_interaction",
    "customers.view_journeystage",
]
MANAGER = AGENT + [
    "customers.delete_customer",
    "customers.change_interaction",
    "customers.view_all_customers",
    "customers.import_customers",
    "customers.export_customers",
    "customers.view_importjob",
    "customers.add_importjob",
]
ADMIN = MANAGER + [
    "customers.delete_interaction",
    "customers.add_journeystage",
    "customers.change_journeystage",
    "customers.delete_journeystage",
    "auth.view_user",
    "auth.add_user",
    "auth.change_user",
    "auth.view_group",
    # API tokens were DRF's authtoken here; memorycrm/migrations/0002_hashed_api_tokens.py
    # replaced them with knox's hashed, expiring tokens (and this app with it).
]
GRANTS = {"Agent": AGENT, "Manager": MANAGER, "Admin": ADMIN}


def seed_stages(apps, schema_editor):
    JourneyStage = apps.get_model("customers", "JourneyStage")
    for name, slug, order, is_critical, weight in STAGES:
        JourneyStage.objects.get_or_create(
            slug=slug,
            defaults={"name": name, "order": order, "is_critical": is_critical, "weight": weight},
        )


def unseed_stages(apps, schema_editor):
    apps.get_model("customers", "JourneyStage").objects.filter(
        slug__in=[s[1] for s in STAGES], interactions__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(seed_stages, unseed_stages),
        migrations.RunPython(
            lambda apps, se: grant(apps, se, GRANTS), lambda apps, se: revoke(apps, se, GRANTS)
        ),
    ]

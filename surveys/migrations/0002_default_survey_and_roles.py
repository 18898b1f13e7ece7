from django.db import migrations

from memorycrm.lib.roles import grant, revoke

AGENT = [
    "surveys.view_survey",
    "surveys.add_invitation",
    "surveys.view_invitation",
    "surveys.view_response",
]
MANAGER = AGENT + ["surveys.bulk_invite", "surveys.view_report"]
ADMIN = MANAGER + [
    "surveys.add_survey",
    "surveys.change_survey",
    "surveys.delete_survey",
    "surveys.change_invitation",
]
GRANTS = {"Agent": AGENT, "Manager": MANAGER, "Admin": ADMIN}

DEFAULT_SURVEY = {
    "name": "What stood out?",
    "intro": "Thank you for your recent contact with us. Two quick questions.",
    "rating_kind": "csat",
    "rating_question": "How satisfied were you with this experience?",
    "open_question": "What part of this experience stood out?",
    "ask_moments": True,
    "thank_you": "Thank you — your answer helps us get better.",
    "link_lifetime_days": 14,
    "reminder_delay_days": 3,
    "frequency_limit_days": 30,
    "active": True,
}


def seed_survey(apps, schema_editor):
    Survey = apps.get_model("surveys", "Survey")
    Survey.objects.get_or_create(name=DEFAULT_SURVEY["name"], defaults=DEFAULT_SURVEY)


def unseed_survey(apps, schema_editor):
    apps.get_model("surveys", "Survey").objects.filter(
        name=DEFAULT_SURVEY["name"], invitations__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0001_initial"),
        ("customers", "0002_stages_and_roles"),
    ]

    operations = [
        migrations.RunPython(seed_survey, unseed_survey),
        migrations.RunPython(
            lambda apps, se: grant(apps, se, GRANTS), lambda apps, se: revoke(apps, se, GRANTS)
        ),
    ]

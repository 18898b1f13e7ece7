from datetime import timedelta

from django.db import migrations

from memorycrm.lib.roles import grant, revoke

THANK_YOU_BODY = """Dear {{ customer.name }},

Thank you for your patience with us{% if moment.stage %} during {{ moment.stage.name|lower }}{% endif %}.
It meant a lot to the team to get this right for you, and we wanted to say so personally.

{% if customer.owner %}{{ customer.owner.get_full_name|default:customer.owner.get_username }}{% else %}The MemoryCRM team{% endif %}
"""

TEMPLATES = [
    ("thank-you", "Thank you, {{ customer.name }}", THANK_YOU_BODY),
]

# (slug, name, active, event, conditions, still_true, action, config, delay, at_local_hour, cooldown, description)
RULES = [
    (
        "frustration-alert",
        "Frustration alert",
        True,
        "interaction.scored",
        [
            {"field": "sentiment_label", "op": "eq", "value": "negative"},
            {"field": "sentiment_confidence", "op": "gte", "value": 0.8},
            {"field": "stage_is_critical", "op": "eq", "value": True},
        ],
        [],
        "alert",
        {
            "recipients": ["owner", "managers"],
            "text": "Frustrated customer: {{ customer.name }}{% if interaction.stage %} ({{ interaction.stage.name }}){% endif %}",
            "email": True,
            "priority": 9,
        },
        timedelta(0),
        None,
        timedelta(hours=1),
        "A negative interaction, scored with high confidence, in a critical stage: alert the owner and the managers.",
    ),
    (
        "escalation-watch",
        "Escalation watch",
        True,
        "interaction.scored",
        [
            {"field": "sentiment_label", "op": "eq", "value": "negative"},
            {"field": "negative_interactions_7d", "op": "gte", "value": 3},
        ],
        [],
        "alert",
        {
            "recipients": ["owner", "managers"],
            "text": "Escalation watch: {{ customer.name }} had 3+ negative interactions in 7 days",
            "email": True,
            "priority": 7,
        },
        timedelta(0),
        None,
        timedelta(days=7),
        "Three negative interactions within 7 days: alert the owner and the managers (once a week at most).",
    ),
    (
        "milestone-thank-you",
        "Milestone thank-you",
        False,
        "moment.created",
        [
            {"field": "moment_polarity", "op": "eq", "value": "positive"},
            {
                "field": "moment_tags",
                "op": "contains_any",
                "value": ["fast-resolution", "escalation-recovery"],
            },
        ],
        [],
        "email",
        {"template": "thank-you", "to": "customer"},
        timedelta(0),
        9,
        None,
        "A positive moment tagged fast resolution or escalation recovery: a personal thank-you email the next morning (customer's time zone).",
    ),
    (
        "stood-out-survey",
        "Stood-out survey",
        False,
        "interaction.scored",
        [
            {"field": "stage", "op": "eq", "value": "complaint"},
            {"field": "sentiment_label", "op": "eq", "value": "positive"},
        ],
        [],
        "survey",
        {"survey": "What stood out?"},
        timedelta(days=1),
        None,
        None,
        "One day after a complaint-stage interaction ends positive, send the 'what stood out?' survey (create the survey first).",
    ),
    (
        "recovery-follow-up",
        "Recovery follow-up",
        False,
        "moment.created",
        [{"field": "moment_polarity", "op": "eq", "value": "negative"}],
        [{"field": "positive_moment_since", "op": "eq", "value": False}],
        "task",
        {"title": "Recovery follow-up: {{ customer.name }}", "due_in_hours": 24},
        timedelta(days=5),
        None,
        None,
        "A negative moment not followed by a positive one within 5 days: a follow-up task for the owner.",
    ),
]

AGENT = [
    "interventions.view_alert",
    "interventions.change_alert",
    "interventions.view_followuptask",
    "interventions.change_followuptask",
]
MANAGER = AGENT + [
    "interventions.view_intervention",
    "interventions.change_intervention",
    "interventions.view_rule",
    "interventions.toggle_rule",
    "interventions.view_emailtemplate",
]
ADMIN = MANAGER + [
    "interventions.add_rule",
    "interventions.change_rule",
    "interventions.delete_rule",
    "interventions.add_emailtemplate",
    "interventions.change_emailtemplate",
    "interventions.delete_emailtemplate",
    "interventions.view_outboundemail",
    "interventions.view_effectlog",
]
GRANTS = {"Agent": AGENT, "Manager": MANAGER, "Admin": ADMIN}


def seed(apps, schema_editor):
    EmailTemplate = apps.get_model("interventions", "EmailTemplate")
    Rule = apps.get_model("interventions", "Rule")
    for name, subject, body in TEMPLATES:
        EmailTemplate.objects.get_or_create(name=name, defaults={"subject": subject, "body": body})
    for (
        slug,
        name,
        active,
        event,
        conditions,
        still_true,
        action,
        config,
        delay,
        hour,
        cooldown,
        description,
    ) in RULES:
        Rule.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "active": active,
                "event": event,
                "conditions": conditions,
                "still_true": still_true,
                "action": action,
                "action_config": config,
                "delay": delay,
                "at_local_hour": hour,
                "cooldown": cooldown,
                "description": description,
            },
        )


def unseed(apps, schema_editor):
    apps.get_model("interventions", "Rule").objects.filter(
        slug__in=[r[0] for r in RULES], interventions__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("interventions", "0001_initial"),
        ("customers", "0002_stages_and_roles"),
    ]

    operations = [
        migrations.RunPython(seed, unseed),
        migrations.RunPython(
            lambda apps, se: grant(apps, se, GRANTS), lambda apps, se: revoke(apps, se, GRANTS)
        ),
    ]

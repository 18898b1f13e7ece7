from django.db import migrations

from memorycrm.lib.roles import grant, revoke

CATEGORIES = [
    # (name, slug, order, description)
    ("Care", "care", 10, "How the customer was treated as a person."),
    ("Speed", "speed", 20, "Time: waiting, chasing, resolving."),
    ("Reliability", "reliability", 30, "Doing what was promised."),
    ("Money", "money", 40, "Prices, bills and refunds."),
    ("Delivery", "delivery", 50, "Getting the product to the customer."),
]

TAGS = [
    # (category, name, slug, polarity, weight, colour, description)
    (
        "care",
        "Empathy win",
        "empathy-win",
        "positive",
        1.5,
        "#1f7a4d",
        "The customer felt heard and understood.",
    ),
    (
        "care",
        "Surprise gesture",
        "surprise-gesture",
        "positive",
        2.0,
        "#2e8b57",
        "Something unexpected and generous: a gift, an upgrade, a handwritten note.",
    ),
    (
        "care",
        "Escalation recovery",
        "escalation-recovery",
        "positive",
        2.5,
        "#3a6ea5",
        "A situation that was going badly was turned around.",
    ),
    (
        "speed",
        "Fast resolution",
        "fast-resolution",
        "positive",
        1.0,
        "#4c9f70",
        "Solved quicker than expected.",
    ),
    (
        "care",
        "Personal thank-you",
        "personal-thank-you",
        "positive",
        1.2,
        "#6aa84f",
        "A thank-you addressed to this customer, not a template.",
    ),
    (
        "reliability",
        "Broken promise",
        "broken-promise",
        "negative",
        2.5,
        "#b42318",
        "We said we would do something and did not.",
    ),
    (
        "speed",
        "Long wait",
        "long-wait",
        "negative",
        1.5,
        "#d9730d",
        "The customer waited too long: in a queue, for an answer, for a fix.",
    ),
    (
        "speed",
        "Repeated contact",
        "repeated-contact",
        "negative",
        1.8,
        "#c2410c",
        "The customer had to get in touch again about the same thing.",
    ),
    (
        "money",
        "Billing shock",
        "billing-shock",
        "negative",
        2.2,
        "#9f1239",
        "An unexpected charge or a bill far from what was expected.",
    ),
    (
        "delivery",
        "Delivery delight",
        "delivery-delight",
        "positive",
        1.3,
        "#0e7490",
        "Delivery went better than expected: early, careful, pleasant.",
    ),
]

RULES = [
    # (name, tag slug, phrases, stage slug or None)
    (
        "Broken promise words",
        "broken-promise",
        "you promised\nyou said you would\nstill not\nnever happened",
        None,
    ),
    (
        "Long wait words",
        "long-wait",
        "on hold\nwaiting for\nstill waiting\nhours in the queue",
        None,
    ),
    (
        "Repeated contact words",
        "repeated-contact",
        "third time\nonce again\nagain and again\nalready told you",
        None,
    ),
    (
        "Billing shock words",
        "billing-shock",
        "overcharged\ncharged twice\nunexpected charge\nhidden fee",
        None,
    ),
    ("Thank-you words", "personal-thank-you", "thank you so much\nthanks so much", None),
    (
        "Delivery delight words",
        "delivery-delight",
        "arrived early\nbeautifully packed\nahead of schedule",
        "delivery",
    ),
]

AGENT = [
    "moments.view_moment",
    "moments.add_moment",
    "moments.change_moment",
    "moments.view_momenttag",
    "moments.view_tagcategory",
    "moments.view_customermemory",
]
MANAGER = AGENT + ["moments.view_dashboard", "moments.view_tagrule"]
ADMIN = MANAGER + [
    "moments.delete_moment",
    "moments.add_momenttag",
    "moments.change_momenttag",
    "moments.add_tagcategory",
    "moments.change_tagcategory",
    "moments.add_tagrule",
    "moments.change_tagrule",
    "moments.delete_tagrule",
]
GRANTS = {"Agent": AGENT, "Manager": MANAGER, "Admin": ADMIN}


def seed_taxonomy(apps, schema_editor):
    using = schema_editor.connection.alias if schema_editor is not None else "default"
    TagCategory = apps.get_model("moments", "TagCategory").objects.using(using)
    MomentTag = apps.get_model("moments", "MomentTag").objects.using(using)
    TagRule = apps.get_model("moments", "TagRule").objects.using(using)
    JourneyStage = apps.get_model("customers", "JourneyStage").objects.using(using)
    categories = {}
    for name, slug, order, description in CATEGORIES:
        categories[slug], _ = TagCategory.get_or_create(
            slug=slug, defaults={"name": name, "order": order, "description": description}
        )
    for order, (category, name, slug, polarity, weight, colour, description) in enumerate(TAGS):
        MomentTag.get_or_create(
            slug=slug,
            defaults={
                "category": categories[category],
                "name": name,
                "polarity": polarity,
                "weight": weight,
                "colour": colour,
                "description": description,
                "order": order * 10,
            },
        )
    for name, tag_slug, phrases, stage_slug in RULES:
        TagRule.get_or_create(
            name=name,
            defaults={
                "tag": MomentTag.get(slug=tag_slug),
                "phrases": phrases,
                "stage": JourneyStage.filter(slug=stage_slug).first() if stage_slug else None,
            },
        )


def unseed_taxonomy(apps, schema_editor):
    apps.get_model("moments", "TagRule").objects.filter(name__in=[r[0] for r in RULES]).delete()
    apps.get_model("moments", "MomentTag").objects.filter(
        slug__in=[t[2] for t in TAGS], taggings__isnull=True
    ).delete()
    apps.get_model("moments", "TagCategory").objects.filter(
        slug__in=[c[1] for c in CATEGORIES], tags__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("moments", "0003_memory_moments"),
        ("customers", "0002_stages_and_roles"),
    ]

    operations = [
        migrations.RunPython(seed_taxonomy, unseed_taxonomy),
        migrations.RunPython(
            lambda apps, se: grant(apps, se, GRANTS), lambda apps, se: revoke(apps, se, GRANTS)
        ),
    ]

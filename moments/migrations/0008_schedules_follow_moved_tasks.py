"""The moments app's task bodies moved into its domain subpackages (moments/sentiment/,
moments/memory/): schedules already in the database follow them, so that they keep running
without waiting for `make run`'s setup commands to rewrite them."""

from django.db import migrations

MOVED = {
    "moments.tasks.score_pending": "moments.sentiment.tasks.score_pending",
    "moments.memory_tasks.refresh_all_memory": "moments.memory.tasks.refresh_all_memory",
}


def follow(apps, schema_editor, moved=MOVED):
    Schedule = apps.get_model("django_q", "Schedule")
    for old, new in moved.items():
        Schedule.objects.filter(func=old).update(func=new)


def back(apps, schema_editor):
    follow(apps, schema_editor, moved={new: old for old, new in MOVED.items()})


class Migration(migrations.Migration):
    dependencies = [
        ("django_q", "0001_initial"),
        ("moments", "0007_moment_recalled_at"),
    ]

    operations = [migrations.RunPython(follow, back, elidable=True)]

"""Helpers for data migrations that give the Agent / Manager / Admin roles their permissions.

Permissions are normally created after `migrate` finishes; a data migration that grants them
must create them first, which `grant` does.
"""

from __future__ import annotations

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions

ROLES = ("Agent", "Manager", "Admin")


def grant(apps, schema_editor, grants: dict[str, list[str]]) -> None:
    """Give each role ("Agent", …) the permissions named "app_label.codename"."""
    using = schema_editor.connection.alias if schema_editor is not None else "default"
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, apps=apps, verbosity=0, using=using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission").objects.using(using)
    for role, names in grants.items():
        group, _ = Group.objects.using(using).get_or_create(name=role)
        for name in names:
            app_label, codename = name.split(".", 1)
            group.permissions.add(
                Permission.get(content_type__app_label=app_label, codename=codename)
            )


def revoke(apps, schema_editor, grants: dict[str, list[str]]) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, names in grants.items():
        group = Group.objects.filter(name=role).first()
        if group is None:
            continue
        for name in names:
            app_label, codename = name.split(".", 1)
            group.permissions.remove(
                *Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            )

"""Writes of project-level data: a user's own settings."""

from __future__ import annotations

from django.db import transaction

from memorycrm.models import UserSettings


@transaction.atomic
def set_time_zone(*, user, time_zone: str) -> UserSettings:
    """Save the user's zone ("" : follow the browser). Raises ValidationError for a name that
    is not an IANA zone."""
    settings_row, _ = UserSettings.objects.get_or_create(user=user)
    settings_row.time_zone = time_zone
    settings_row.full_clean()
    settings_row.save(update_fields=["time_zone"])
    return settings_row

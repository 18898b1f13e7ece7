from __future__ import annotations

from auditlog.models import LogEntry
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.db import models


def record_erasure(
    *,
    model: type[models.Model],
    object_id: int,
    counts: dict[str, int],
    actor: AbstractBaseUser | AnonymousUser | None,
) -> LogEntry:
    """Write the audit entry of an erasure: who erased which record (by id) when, and how many
    rows of each kind went with it.

    It names nothing else: the entry outlives the data it speaks of, so it must hold no personal
    data (no name, email or text). `actor` None means a worker or a management command.
    """
    return LogEntry.objects.create(
        content_type=ContentType.objects.get_for_model(model),
        object_pk=str(object_id),
        object_id=object_id,
        object_repr=f"{model._meta.verbose_name} #{object_id} (erased)",
        action=LogEntry.Action.DELETE,
        changes={},
        actor=actor if actor is not None and actor.is_authenticated else None,
        additional_data={"erased": counts},
    )

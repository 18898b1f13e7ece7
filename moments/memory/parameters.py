"""The memory model's parameters in use: the MEMORY_* settings, with the five forecast
parameters (base stability, intensity gain, impact gain, loss aversion, refresh boost) taken
from the fit an admin applied, if any (``MemoryFitProposal``, status applied). The settings stay
the defaults: with no applied fit, or after it is retired, the forecast runs on them.

The fits come from survey answers (``fit_memory_model``, docs/memory-model.md, "The forecast
learns from survey answers"): ``propose`` stores one, ``apply`` puts it in use. The applied
values are cached (every refresh of a customer's memory reads them); ``apply`` queues the
recomputation of every customer's forecast with its change and clears the cache once it commits.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from moments import enqueue
from moments.memory import scoring
from moments.models import MemoryFitProposal

CACHE_KEY = "memory:applied-fit:v1"
CACHE_SECONDS = 300  # a bound on staleness should a cache clear ever be lost
NONE = "none"  # cached when no fit is applied (None would read as a cache miss)


def applied_values() -> dict[str, float] | None:
    """The applied fit's five parameters, or None (the settings are in use). Cached."""
    cached = cache.get(CACHE_KEY)
    if cached is None:
        applied = MemoryFitProposal.objects.filter(status=MemoryFitProposal.Status.APPLIED).first()
        cached = applied.values if applied else NONE
        cache.set(CACHE_KEY, cached, CACHE_SECONDS)
    return None if cached == NONE else dict(cached)


def current() -> scoring.MemoryParams:
    """The parameters the recall forecast uses now: the settings, overridden by the applied
    fit's five forecast parameters."""
    params = scoring.MemoryParams.from_settings()
    values = applied_values()
    return dataclasses.replace(params, **values) if values else params


def clear_cache() -> None:
    cache.delete(CACHE_KEY)


@transaction.atomic
def propose(
    *,
    values: Mapping[str, float],
    pick_rate: float,
    current_values: Mapping[str, float],
    n_answers: int,
    n_candidates: int,
    n_picked: int,
    log_likelihood_current: float,
    log_likelihood_proposed: float,
    auc_current: float,
    auc_proposed: float,
    at_bound: list[str],
) -> MemoryFitProposal:
    """Store a fit as a proposal, superseding the open one. Changes nothing in the forecast."""
    MemoryFitProposal.objects.select_for_update().filter(
        status=MemoryFitProposal.Status.PROPOSED
    ).update(status=MemoryFitProposal.Status.SUPERSEDED)
    proposal = MemoryFitProposal(
        **{name: float(values[name]) for name in MemoryFitProposal.PARAMETERS},
        pick_rate=pick_rate,
        current={name: float(current_values[name]) for name in MemoryFitProposal.PARAMETERS},
        n_answers=n_answers,
        n_candidates=n_candidates,
        n_picked=n_picked,
        log_likelihood_current=log_likelihood_current,
        log_likelihood_proposed=log_likelihood_proposed,
        auc_current=auc_current,
        auc_proposed=auc_proposed,
        at_bound=list(at_bound),
    )
    proposal.full_clean(validate_constraints=False)
    proposal.save()
    return proposal


@transaction.atomic
def apply(*, proposal: MemoryFitProposal, user: AbstractBaseUser | AnonymousUser | None) -> bool:
    """Put an open proposal in use (an admin's decision): the one applied before is retired.
    Each row is saved through the model, so the audit log records the change and who made it
    (the request's user, via django-auditlog's middleware). Once committed, the cache is
    cleared and every customer's forecast is recomputed in the background. Returns False when
    the proposal is no longer open (applied, superseded) and nothing changed."""
    proposal = MemoryFitProposal.objects.select_for_update().get(pk=proposal.pk)
    if proposal.status != MemoryFitProposal.Status.PROPOSED:
        return False
    for previous in MemoryFitProposal.objects.select_for_update().filter(
        status=MemoryFitProposal.Status.APPLIED
    ):
        previous.status = MemoryFitProposal.Status.RETIRED
        previous.save(update_fields=["status"])
    proposal.status = MemoryFitProposal.Status.APPLIED
    proposal.applied_at = timezone.now()
    proposal.applied_by = user if user is not None and user.is_authenticated else None
    proposal.save(update_fields=["status", "applied_at", "applied_by"])
    _after_change()
    return True


@transaction.atomic
def retire(*, proposal: MemoryFitProposal) -> bool:
    """Stop using an applied fit: the forecast goes back to the settings. Audited as apply."""
    proposal = MemoryFitProposal.objects.select_for_update().get(pk=proposal.pk)
    if proposal.status != MemoryFitProposal.Status.APPLIED:
        return False
    proposal.status = MemoryFitProposal.Status.RETIRED
    proposal.save(update_fields=["status"])
    _after_change()
    return True


def _after_change() -> None:
    """Inside the change's transaction: the recomputation of every forecast is queued as part
    of it (memorycrm.lib.queue), and the cache is cleared once it commits."""
    enqueue.refresh_all_memory()
    transaction.on_commit(clear_cache)

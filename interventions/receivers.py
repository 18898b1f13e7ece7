"""Reactions to other apps' events. Thin: if a rule listens, hand the ids to a task, which
fires the event through the engine (an event is a name, a subject and a payload)."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from customers.signals import interactions_logged
from interventions import conditions as cond
from interventions import engine, enqueue
from interventions.models import Rule
from moments.signals import interactions_scored, moment_tagged, moments_created
from surveys.signals import survey_answered


@receiver(interactions_logged, dispatch_uid="interventions.interactions_logged")
def on_interactions_logged(sender, interaction_ids: list[int], **kwargs) -> None:
    if engine.has_rules(cond.INTERACTION_LOGGED) or engine.has_rules(cond.STAGE_REACHED):
        enqueue.fire_events(cond.INTERACTION_LOGGED, "customers.Interaction", list(interaction_ids))


@receiver(interactions_scored, dispatch_uid="interventions.interactions_scored")
def on_interactions_scored(
    sender, interaction_ids: list[int], rescoring: bool = False, **kwargs
) -> None:
    # rescoring: a new model replaced older scores (the switch-over): not news, so the
    # real-time actions stay quiet (engine.stale_reason).
    if engine.has_rules(cond.INTERACTION_SCORED):
        enqueue.fire_events(
            cond.INTERACTION_SCORED, "customers.Interaction", list(interaction_ids), quiet=rescoring
        )


@receiver(moments_created, dispatch_uid="interventions.moments_created")
def on_moments_created(sender, moment_ids: list[int], **kwargs) -> None:
    if engine.has_rules(cond.MOMENT_CREATED):
        enqueue.fire_events(cond.MOMENT_CREATED, "moments.Moment", list(moment_ids))


@receiver(moment_tagged, dispatch_uid="interventions.moment_tagged")
def on_moment_tagged(sender, moment_id: int, tags: list[str], **kwargs) -> None:
    # moment.created rules read the moment's tags as they are when they run, so an agent's
    # later tag counts as if the moment had been created with it. Still at most once: one
    # intervention per rule and moment (and episode).
    if engine.has_rules(cond.MOMENT_CREATED):
        enqueue.fire_events(cond.MOMENT_CREATED, "moments.Moment", [moment_id])


@receiver(survey_answered, dispatch_uid="interventions.survey_answered")
def on_survey_answered(sender, response_id: int, **kwargs) -> None:
    if engine.has_rules(cond.SURVEY_ANSWERED, cached=True):  # on the public answer path
        enqueue.fire_events(cond.SURVEY_ANSWERED, "surveys.Response", [response_id])


@receiver(post_save, sender=Rule, dispatch_uid="interventions.rule_saved")
@receiver(post_delete, sender=Rule, dispatch_uid="interventions.rule_deleted")
def on_rule_changed(sender, **kwargs) -> None:
    # Now, and again after commit: a request in between may have cached the old answer.
    engine.forget_rules()
    transaction.on_commit(engine.forget_rules)

"""Reactions to other apps' events. Thin: if a rule listens, hand the ids to a task, which
fires the event through the engine (an event is a name, a subject and a payload)."""

from __future__ import annotations

from django.dispatch import receiver

from customers.signals import interactions_logged
from interventions import conditions as cond
from interventions import engine, tasks
from moments.signals import interactions_scored, moments_created
from surveys.signals import survey_answered


@receiver(interactions_logged, dispatch_uid="interventions.interactions_logged")
def on_interactions_logged(sender, interaction_ids: list[int], **kwargs) -> None:
    if engine.has_rules(cond.INTERACTION_LOGGED) or engine.has_rules(cond.STAGE_REACHED):
        tasks.enqueue_fire(cond.INTERACTION_LOGGED, "customers.Interaction", list(interaction_ids))


@receiver(interactions_scored, dispatch_uid="interventions.interactions_scored")
def on_interactions_scored(sender, interaction_ids: list[int], **kwargs) -> None:
    if engine.has_rules(cond.INTERACTION_SCORED):
        tasks.enqueue_fire(cond.INTERACTION_SCORED, "customers.Interaction", list(interaction_ids))


@receiver(moments_created, dispatch_uid="interventions.moments_created")
def on_moments_created(sender, moment_ids: list[int], **kwargs) -> None:
    if engine.has_rules(cond.MOMENT_CREATED):
        tasks.enqueue_fire(cond.MOMENT_CREATED, "moments.Moment", list(moment_ids))


@receiver(survey_answered, dispatch_uid="interventions.survey_answered")
def on_survey_answered(sender, response_id: int, **kwargs) -> None:
    if engine.has_rules(cond.SURVEY_ANSWERED):
        tasks.enqueue_fire(cond.SURVEY_ANSWERED, "surveys.Response", [response_id])

"""Who may see what in the interventions app: the one place that scopes its rows to a user."""

from __future__ import annotations

from django.contrib.auth import models as auth
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from customers.access import customers_visible_to
from interventions.models import Alert, FollowUpTask, Intervention, Rule

# Whoever asks (request.user): our user model (the default auth.User) or the anonymous user.
User = auth.User | auth.AnonymousUser


def interventions_visible_to(user: User) -> QuerySet[Intervention]:
    """Interventions on the customers the user may see (needs `view_intervention`: managers)."""
    if not user.is_authenticated or not user.has_perm("interventions.view_intervention"):
        return Intervention.objects.none()
    return Intervention.objects.filter(customer__in=customers_visible_to(user))


def get_intervention_for_user(user: User, pk: int) -> Intervention:
    return get_object_or_404(interventions_visible_to(user), pk=pk)


def alerts_for(user: User) -> QuerySet[Alert]:
    """A user's own alerts: nobody reads another person's inbox."""
    if not user.is_authenticated or not user.has_perm("interventions.view_alert"):
        return Alert.objects.none()
    return Alert.objects.filter(recipient=user)


def get_alert_for_user(user: User, pk: int) -> Alert:
    return get_object_or_404(alerts_for(user), pk=pk)


def tasks_for(user: User) -> QuerySet[FollowUpTask]:
    """A user's own follow-up tasks."""
    if not user.is_authenticated or not user.has_perm("interventions.view_followuptask"):
        return FollowUpTask.objects.none()
    return FollowUpTask.objects.filter(assignee=user)


def get_task_for_user(user: User, pk: int) -> FollowUpTask:
    return get_object_or_404(tasks_for(user), pk=pk)


def rules_visible_to(user: User) -> QuerySet[Rule]:
    if not user.is_authenticated or not user.has_perm("interventions.view_rule"):
        return Rule.objects.none()
    return Rule.objects.all()


def get_rule_for_user(user: User, pk: int) -> Rule:
    return get_object_or_404(rules_visible_to(user), pk=pk)

"""Who may see which invitations and responses: those of the customers they may see."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import models as auth
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from customers.access import customers_visible_to, interactions_visible_to
from customers.models import Interaction
from surveys.models import Invitation, Response

# Whoever asks (request.user): our user model (the default auth.User) or the anonymous user.
User = auth.User | auth.AnonymousUser


def _scope(queryset: QuerySet, user: User) -> QuerySet:
    if settings.CUSTOMER_VISIBILITY == "owned" and not user.has_perm(
        "customers.view_all_customers"
    ):
        return queryset.filter(customer__in=customers_visible_to(user))
    if not user.has_perm("customers.view_customer"):
        return queryset.none()
    return queryset


def invitations_visible_to(user: User) -> QuerySet[Invitation]:
    if not user.is_authenticated or not user.has_perm("surveys.view_invitation"):
        return Invitation.objects.none()
    return _scope(Invitation.objects.all(), user)


def responses_visible_to(user: User) -> QuerySet[Response]:
    if not user.is_authenticated or not user.has_perm("surveys.view_response"):
        return Response.objects.none()
    return _scope(Response.objects.all(), user)


def get_interaction_for_user(user: User, pk: int) -> Interaction:
    """The interaction, or 404 when it does not exist or the user may not see its customer."""
    return get_object_or_404(interactions_visible_to(user).select_related("customer"), pk=pk)

"""Who may see what: the one place that scopes customers and interactions to a user."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import models as auth
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from customers.models import Customer, CustomerQuerySet, Interaction

# Whoever asks (request.user): our user model (the default auth.User) or the anonymous user.
User = auth.User | auth.AnonymousUser


def customers_visible_to(user: User) -> CustomerQuerySet:
    """Customers the user may see.

    Needs the `view_customer` permission (the Agent, Manager and Admin roles have it). With
    MEMORYCRM_CUSTOMER_VISIBILITY=owned, a user without `view_all_customers` (agents) sees only
    the customers they own.
    """
    if not user.is_authenticated or not user.has_perm("customers.view_customer"):
        return Customer.objects.none()
    if settings.CUSTOMER_VISIBILITY == "owned" and not user.has_perm(
        "customers.view_all_customers"
    ):
        return Customer.objects.filter(owner=user)
    return Customer.objects.all()


def sees_every_customer(user: User) -> bool:
    """False for an agent in owned mode, who must not learn that others' customers exist."""
    return settings.CUSTOMER_VISIBILITY != "owned" or user.has_perm("customers.view_all_customers")


def interactions_visible_to(user: User) -> QuerySet[Interaction]:
    if not user.is_authenticated or not user.has_perm("customers.view_interaction"):
        return Interaction.objects.none()
    if settings.CUSTOMER_VISIBILITY == "owned" and not user.has_perm(
        "customers.view_all_customers"
    ):
        return Interaction.objects.filter(customer__owner=user)
    return Interaction.objects.all()


def get_customer_for_user(user: User, pk: int) -> Customer:
    """The customer, or 404 when it does not exist or the user may not see it."""
    return get_object_or_404(customers_visible_to(user), pk=pk)

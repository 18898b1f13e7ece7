"""Who may see which moments: the one place that scopes memory moments to a user (on top of
customers.access, which scopes their customers)."""

from __future__ import annotations

from django.contrib.auth import models as auth
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from customers.access import customers_visible_to
from moments.models import Moment

# Whoever asks (request.user): our user model (the default auth.User) or the anonymous user.
User = auth.User | auth.AnonymousUser


def moments_visible_to(user: User) -> QuerySet[Moment]:
    """Moments of the customers the user may see, if they may see moments at all."""
    if not user.is_authenticated or not user.has_perm("moments.view_moment"):
        return Moment.objects.none()
    return Moment.objects.filter(customer__in=customers_visible_to(user))


def get_moment_for_user(user: User, pk: int) -> Moment:
    """The moment, or 404 when it does not exist or its customer is not visible to the user."""
    return get_object_or_404(moments_visible_to(user).select_related("customer"), pk=pk)


def sees_every_customer(user: User) -> bool:
    """Whether customers_visible_to(user) is every customer (then aggregates over all of them,
    like the journey rollup, may be shown to the user as they are)."""
    visible = customers_visible_to(user)
    return not (visible.query.has_filters() or visible.query.is_empty())

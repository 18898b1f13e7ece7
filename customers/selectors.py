"""Reads that depend on who asks: customer lists and the timeline."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Max

from customers.access import User, customers_visible_to
from customers.models import Customer
from memorycrm.lib import keyset


def customer_page(*, user: User, query: str = "", cursor: str | None = None) -> keyset.Page:
    """A page of the customers the user may see, matching `query`, ordered by name.

    The page's ids are found first, walking the (name, id) index, which holds what a search
    looks in: a common term ("smith") matches within the index and the table is read only for
    the page's rows (see customers.models.SearchText)."""
    return keyset.paginate(
        customers_visible_to(user).search(query),
        field="name",
        descending=False,
        cursor=cursor,
        size=settings.CUSTOMER_PAGE_SIZE,
        rows=Customer.objects.select_related("owner"),
    )


def timeline_page(*, customer: Customer, cursor: str | None = None) -> keyset.Page:
    """A page of the customer's interactions, newest first, after `cursor`.

    Keyset pagination on the (customer, occurred_at desc, id desc) index: a constant number of
    queries and the same cost for the first and the fiftieth page.
    """
    interactions = customer.interactions.select_related(
        "agent", "stage", "conversation", "inbound_email__answers"
    )
    return keyset.paginate(
        interactions,
        field="occurred_at",
        descending=True,
        cursor=cursor,
        size=settings.TIMELINE_PAGE_SIZE,
    )


def timeline_arrivals(*, customer: Customer, after: int, shown: set[int]) -> list:
    """Interactions stored since an open customer page last asked (id above `after`, not
    among `shown`: those the page added itself), newest first; at most a page of them."""
    interactions = (
        customer.interactions.select_related(
            "agent", "stage", "conversation", "inbound_email__answers"
        )
        .filter(pk__gt=after)
        .exclude(pk__in=shown)
        .order_by("-occurred_at", "-id")
    )
    return list(interactions[: settings.TIMELINE_PAGE_SIZE])


def newest_interaction_id(customer: Customer) -> int:
    return customer.interactions.aggregate(newest=Max("pk"))["newest"] or 0

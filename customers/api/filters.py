"""Query-string filters for the customers API. django-filter validates every parameter (a bad
date, an unknown choice or a NUL byte is a 400, not a 500) and drf-spectacular documents them."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django_filters import rest_framework as filters

from customers.access import customers_visible_to, interactions_visible_to
from customers.models import Customer, Interaction
from memorycrm.lib.api import IsoDateTimeFilter


def visible_customers(request) -> QuerySet[Customer]:
    """The choices of every `?customer=` filter (as `queryset=visible_customers`).

    A filter value naming a customer the user may not see is "not a valid choice", exactly
    like an id that does not exist: the API never confirms that another's customer exists."""
    if request is None:
        return Customer.objects.none()
    return customers_visible_to(request.user)


def visible_interactions(request) -> QuerySet[Interaction]:
    """The choices of every `?interaction=` filter: as visible_customers."""
    if request is None:
        return Interaction.objects.none()
    return interactions_visible_to(request.user)


def customer_filter() -> filters.ModelChoiceFilter:
    return filters.ModelChoiceFilter(queryset=visible_customers, label="Id of the customer.")


def interaction_filter(field_name: str = "interaction") -> filters.ModelChoiceFilter:
    return filters.ModelChoiceFilter(
        field_name=field_name, queryset=visible_interactions, label="Id of the interaction."
    )


class CustomerFilter(filters.FilterSet):
    search = filters.CharFilter(
        method="filter_search",
        max_length=100,
        label="Substring of the name, email or company (case-insensitive).",
    )
    q = filters.CharFilter(method="filter_search", max_length=100, label="Same as `search`.")
    company = filters.CharFilter(lookup_expr="iexact", label="Company (exact, case-insensitive).")
    email = filters.CharFilter(lookup_expr="iexact", label="Email (exact, case-insensitive).")
    owner = filters.ModelChoiceFilter(
        queryset=get_user_model().objects.all(), label="Id of the owning user."
    )
    created_after = IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", label="Created at or after (ISO 8601)."
    )
    created_before = IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lte", label="Created at or before (ISO 8601)."
    )
    survey_opt_out = filters.BooleanFilter(label="The customer asked not to receive surveys.")

    class Meta:
        model = Customer
        fields = [
            "search",
            "q",
            "company",
            "email",
            "owner",
            "created_after",
            "created_before",
            "survey_opt_out",
        ]

    def filter_search(self, queryset: QuerySet[Customer], name: str, value: str):
        return queryset.search(value)


class InteractionFilter(filters.FilterSet):
    customer = customer_filter()
    channel = filters.ChoiceFilter(choices=Interaction.Channel.choices)
    direction = filters.ChoiceFilter(choices=Interaction.Direction.choices)
    stage = filters.CharFilter(
        method="filter_stage", max_length=80, label="Journey stage, by id or by slug."
    )
    occurred_after = IsoDateTimeFilter(
        field_name="occurred_at", lookup_expr="gte", label="Occurred at or after (ISO 8601)."
    )
    occurred_before = IsoDateTimeFilter(
        field_name="occurred_at", lookup_expr="lte", label="Occurred at or before (ISO 8601)."
    )
    sentiment_label = filters.ChoiceFilter(
        choices=Interaction.Sentiment.choices,
        label="Sentiment label; interactions not scored yet have none.",
    )

    class Meta:
        model = Interaction
        fields = [
            "customer",
            "channel",
            "direction",
            "stage",
            "occurred_after",
            "occurred_before",
            "sentiment_label",
        ]

    def filter_stage(self, queryset: QuerySet[Interaction], name: str, value: str):
        if value.isascii() and value.isdigit():
            # A foreign-key lookup is not guarded against ids beyond 64 bits (SQLite raises).
            stage_id = int(value)
            return queryset.filter(stage_id=stage_id) if stage_id < 2**63 else queryset.none()
        return queryset.filter(stage__slug=value)

"""Filters of the memory moments API (moments.memory.api.views)."""

from __future__ import annotations

from django_filters import rest_framework as filters

from customers.access import customers_visible_to
from customers.models import Customer, JourneyStage
from memorycrm.lib.api import IsoDateTimeFilter
from moments.models import Moment, MomentTag, Polarity


class MomentFilter(filters.FilterSet):
    customer = filters.ModelChoiceFilter(
        queryset=lambda request: (
            customers_visible_to(request.user) if request else Customer.objects.none()
        )
    )
    tag = filters.ModelChoiceFilter(
        field_name="tags", to_field_name="slug", queryset=MomentTag.objects.all()
    )
    stage = filters.ModelChoiceFilter(to_field_name="slug", queryset=JourneyStage.objects.all())
    polarity = filters.ChoiceFilter(choices=Polarity.choices)
    occurred_after = IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")
    dismissed = filters.BooleanFilter()
    source = filters.ChoiceFilter(choices=Moment.Source.choices)

    class Meta:
        model = Moment
        fields = ["customer", "tag", "stage", "polarity", "dismissed", "source"]

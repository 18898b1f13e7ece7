"""REST API: rules (read; write for admins), interventions (list/filter, cancel, retry),
alerts (list, mark read) and follow-up tasks (list, mark done). Registered in memorycrm/api.py.

Querysets come from interventions.access (another person's alert or task is a 404); writes go
through interventions.services.
"""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from customers.api.filters import customer_filter, interaction_filter
from interventions import services
from interventions.access import alerts_for, interventions_visible_to, rules_visible_to, tasks_for
from interventions.api.serializers import (
    AlertSerializer,
    FollowUpTaskSerializer,
    InterventionSerializer,
    RuleSerializer,
)
from interventions.models import ALERT_SEVERITIES, Alert, FollowUpTask, Intervention, Rule
from memorycrm.lib.api import IsoDateTimeFilter, MethodBeforePermissionMixin, needs


class RuleViewSet(MethodBeforePermissionMixin, viewsets.ModelViewSet):
    serializer_class = RuleSerializer
    filterset_fields = ["event", "action", "active"]
    ordering_fields = ["name", "id"]
    ordering = ["name"]

    def get_queryset(self) -> QuerySet[Rule]:
        return rules_visible_to(self.request.user)

    def perform_create(self, serializer) -> None:
        serializer.instance = services.save_rule(rule=Rule(), data=serializer.validated_data)

    def perform_update(self, serializer) -> None:
        serializer.instance = services.save_rule(
            rule=serializer.instance, data=serializer.validated_data
        )


class InterventionFilter(django_filters.FilterSet):
    rule = django_filters.CharFilter(field_name="rule__slug")
    scheduled_after = IsoDateTimeFilter(field_name="scheduled_for", lookup_expr="gte")
    scheduled_before = IsoDateTimeFilter(field_name="scheduled_for", lookup_expr="lt")
    # Owned mode: another agent's customer is "not a valid choice", as a missing one is.
    customer = customer_filter()
    interaction = interaction_filter()

    class Meta:
        model = Intervention
        fields = ["status", "customer", "interaction", "event"]


class InterventionViewSet(MethodBeforePermissionMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = InterventionSerializer
    filterset_class = InterventionFilter
    ordering_fields = ["scheduled_for", "created_at", "id"]
    ordering = ["-scheduled_for", "-id"]

    def get_queryset(self) -> QuerySet[Intervention]:
        return interventions_visible_to(self.request.user).select_related("rule", "subject_type")

    @action(
        detail=True,
        methods=["post"],
        permission_classes=[IsAuthenticated, needs("interventions.change_intervention")],
    )
    def cancel(self, request: Request, pk=None) -> Response:
        intervention = services.cancel_intervention(intervention=self.get_object(), by=request.user)
        return Response(self.get_serializer(intervention).data)

    @action(
        detail=True,
        methods=["post"],
        permission_classes=[IsAuthenticated, needs("interventions.change_intervention")],
    )
    def retry(self, request: Request, pk=None) -> Response:
        intervention = services.retry_intervention(intervention=self.get_object(), by=request.user)
        return Response(self.get_serializer(intervention).data)


class AlertFilter(django_filters.FilterSet):
    unread = django_filters.BooleanFilter(field_name="read_at", lookup_expr="isnull")
    severity = django_filters.ChoiceFilter(
        choices=[(name, name) for name in ALERT_SEVERITIES], method="filter_severity"
    )
    customer = customer_filter()
    interaction = interaction_filter()

    class Meta:
        model = Alert
        fields = ["customer", "interaction", "priority", "state"]

    def filter_severity(self, queryset: QuerySet[Alert], name: str, value: str):
        low = ALERT_SEVERITIES[value]
        higher = [level for level in ALERT_SEVERITIES.values() if level > low]
        queryset = queryset.filter(priority__gte=low)
        return queryset.filter(priority__lt=min(higher)) if higher else queryset


class AlertViewSet(MethodBeforePermissionMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = AlertSerializer
    filterset_class = AlertFilter
    ordering_fields = ["created_at", "priority", "rank_at", "id"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self) -> QuerySet[Alert]:
        return alerts_for(self.request.user).select_related(
            "customer", "acknowledged_by", "resolved_by"
        )

    @action(
        detail=True,
        methods=["post"],
        permission_classes=[IsAuthenticated, needs("interventions.change_alert")],
    )
    def read(self, request: Request, pk=None) -> Response:
        alert = services.mark_alert_read(alert=self.get_object())
        return Response(self.get_serializer(alert).data)

    @action(
        detail=True,
        methods=["post"],
        permission_classes=[IsAuthenticated, needs("interventions.change_alert")],
    )
    def acknowledge(self, request: Request, pk=None) -> Response:
        """Open → acknowledged (someone is on it), for every copy of the alert."""
        alert = services.acknowledge_alert(alert=self.get_object(), by=request.user)
        return Response(self.get_serializer(alert).data)

    @action(
        detail=True,
        methods=["post"],
        permission_classes=[IsAuthenticated, needs("interventions.change_alert")],
    )
    def resolve(self, request: Request, pk=None) -> Response:
        """→ resolved, for every copy; the customer's held survey invitations go out if due."""
        alert = services.resolve_alert(alert=self.get_object(), by=request.user)
        return Response(self.get_serializer(alert).data)


class TaskFilter(django_filters.FilterSet):
    open = django_filters.BooleanFilter(field_name="done_at", lookup_expr="isnull")
    customer = customer_filter()

    class Meta:
        model = FollowUpTask
        fields = ["customer"]


class FollowUpTaskViewSet(
    MethodBeforePermissionMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = FollowUpTaskSerializer
    filterset_class = TaskFilter
    ordering_fields = ["due", "created_at", "id"]
    ordering = ["due", "id"]

    def get_queryset(self) -> QuerySet[FollowUpTask]:
        return tasks_for(self.request.user).select_related("customer")

    @action(
        detail=True,
        methods=["post"],
        permission_classes=[IsAuthenticated, needs("interventions.change_followuptask")],
    )
    def done(self, request: Request, pk=None) -> Response:
        task = services.complete_task(task=self.get_object(), by=request.user)
        return Response(self.get_serializer(task).data)

"""Memory moments API (registered in memorycrm/api.py): moments (list/filter, create = promote,
update tags, dismiss), the tag taxonomy (read), a customer's memory summary and the journey
heatmap. Every write calls moments.memory.services, the same services as the HTML views."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as APIValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from customers.access import get_customer_for_user, interactions_visible_to
from customers.models import Customer
from memorycrm.lib.api import MethodBeforePermissionMixin, StableOrderingFilter, needs
from moments.access import moments_visible_to
from moments.memory import selectors, selectors_journey, services
from moments.memory.api.filters import MomentFilter
from moments.memory.api.serializers import (
    DismissSerializer,
    HeatmapQuerySerializer,
    HeatmapSerializer,
    MemorySummarySerializer,
    MomentSerializer,
    MomentTagSerializer,
    PromoteSerializer,
    TagCategorySerializer,
    TagsUpdateSerializer,
)
from moments.models import Moment, MomentTag, Polarity, TagCategory


class MomentViewSet(
    MethodBeforePermissionMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Moments of the customers you may see, from interactions and from survey answers that
    named no moment (``?source=interaction|survey``). POST promotes an interaction to a moment;
    PATCH sets its tags; POST …/dismiss/ dismisses it with a reason."""

    serializer_class = MomentSerializer
    filterset_class = MomentFilter
    filter_backends = [filters.DjangoFilterBackend, StableOrderingFilter]
    ordering_fields = ["occurred_at", "impact", "created_at"]
    ordering = ["-occurred_at"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Moment]:
        return selectors.moments_for_list(moments_visible_to(self.request.user))

    @extend_schema(request=PromoteSerializer, responses={201: MomentSerializer})
    def create(self, request: Request) -> Response:
        payload = PromoteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        interaction = interactions_visible_to(request.user).filter(
            pk=payload.validated_data["interaction"]
        )
        if not interaction.exists():
            raise APIValidationError({"interaction": ["No such interaction."]})
        moment = services.promote_interaction(
            interaction=interaction.get(),
            user=request.user,
            tags=payload.validated_data["tags"],
            note=payload.validated_data["note"],
        )
        return Response(self._out(moment), status=status.HTTP_201_CREATED)

    @extend_schema(request=TagsUpdateSerializer, responses={200: MomentSerializer})
    def partial_update(self, request: Request, pk: int | None = None) -> Response:
        moment = self.get_object()
        payload = TagsUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        moment = services.set_tags(
            moment=moment, tags=payload.validated_data["tags"], user=request.user
        )
        return Response(self._out(moment))

    @extend_schema(request=DismissSerializer, responses={200: MomentSerializer})
    @action(detail=True, methods=["post"])
    def dismiss(self, request: Request, pk: int | None = None) -> Response:
        moment = self.get_object()
        if not request.user.has_perm("moments.change_moment"):
            self.permission_denied(request)
        payload = DismissSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        moment = services.dismiss_moment(
            moment=moment, user=request.user, reason=payload.validated_data["reason"]
        )
        return Response(self._out(moment))

    def _out(self, moment: Moment) -> dict:
        moment = selectors.moments_for_list(Moment.objects.filter(pk=moment.pk)).get()
        return MomentSerializer(moment, context=self.get_serializer_context()).data


SLUG = r"[-a-zA-Z0-9_]+"  # what a SlugField accepts


class MomentTagViewSet(MethodBeforePermissionMixin, viewsets.ReadOnlyModelViewSet):
    """The tag taxonomy, retired tags included (``active``: false)."""

    serializer_class = MomentTagSerializer
    queryset = MomentTag.objects.select_related("category").order_by("order", "name", "id")
    filterset_fields = ["active", "polarity"]
    pagination_class = None
    lookup_field = "slug"
    lookup_value_regex = SLUG  # anything else (a NUL byte: a 500 on PostgreSQL) is a 404


class TagCategoryViewSet(MethodBeforePermissionMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = TagCategorySerializer
    queryset = TagCategory.objects.order_by("order", "name", "id")
    pagination_class = None
    lookup_field = "slug"
    lookup_value_regex = SLUG  # anything else (a NUL byte: a 500 on PostgreSQL) is a 404


CanViewMoments = needs("moments.view_moment")
CanViewDashboard = needs("moments.view_dashboard")


class CustomerMemoryViewSet(viewsets.ViewSet):
    """GET /customer-memory/{customer id}/: balance, trend, at-risk and the moments with the
    highest forecast recall 30 days from now."""

    permission_classes = [IsAuthenticated, CanViewMoments]
    queryset = Customer.objects.none()  # for the schema only

    @extend_schema(responses=MemorySummarySerializer)
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        if not str(pk).isdigit():
            get_object_or_404(Customer.objects.none())
        customer = get_customer_for_user(request.user, int(pk))
        summary = selectors.memory_summary(customer)
        return Response(MemorySummarySerializer(summary).data)


class JourneyHeatmapViewSet(viewsets.ViewSet):
    """GET /journey-heatmap/: stage x tag aggregates (count, mean impact, recall-weighted
    impact; tag null = untagged moments) over the customers you may see, filtered by date range
    (whole days in the server's TIME_ZONE) and polarity."""

    permission_classes = [IsAuthenticated, CanViewDashboard]

    @extend_schema(
        parameters=[
            OpenApiParameter("date_from", str, description="YYYY-MM-DD, inclusive"),
            OpenApiParameter("date_to", str, description="YYYY-MM-DD, inclusive"),
            OpenApiParameter("polarity", str, enum=[p for p, _ in Polarity.choices]),
        ],
        responses=HeatmapSerializer,
    )
    def list(self, request: Request) -> Response:
        query = HeatmapQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        flt = selectors_journey.HeatmapFilter(
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            polarity=data.get("polarity", ""),
        )
        return Response(selectors_journey.journey_heatmap(flt, user=request.user).as_dict())

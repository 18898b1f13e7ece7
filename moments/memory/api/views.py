"""Memory moments API (registered in memorycrm/api.py): moments (list/filter, create = promote,
update tags, dismiss), the tag taxonomy (read), a customer's memory summary and the journey
heatmap. Every write calls moments.memory.services, the same services as the HTML views."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as APIValidationError
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from customers.access import customers_visible_to, get_customer_for_user, interactions_visible_to
from customers.api.filters import StableOrderingFilter
from customers.api.views import MethodBeforePermissionMixin
from customers.models import Customer, JourneyStage
from memorycrm.lib.api import IsoDateTimeFilter
from moments.access import moments_visible_to
from moments.memory import selectors, services
from moments.models import Moment, MomentTag, Polarity, TagCategory

# --- Serializers ----------------------------------------------------------------------------


class TagCategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = TagCategory
        fields = ["id", "name", "slug", "description", "order"]


class MomentTagSerializer(serializers.ModelSerializer):
    category = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = MomentTag
        fields = [
            "id",
            "name",
            "slug",
            "category",
            "polarity",
            "weight",
            "colour",
            "description",
            "active",
        ]


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField()
    detail = serializers.CharField()


class MomentSerializer(serializers.ModelSerializer):
    tags = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    stage = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    reasons = ReasonSerializer(many=True, read_only=True)
    recall = serializers.SerializerMethodField()
    dismissed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    source = serializers.ChoiceField(
        choices=Moment.Source.choices,
        read_only=True,
        help_text="Where the moment comes from: an interaction (`interaction`) or a survey answer "
        "that named no moment (`source_text`; the answer's `moment` in /api/v1/responses/ "
        "links back).",
    )
    source_text = serializers.CharField(
        read_only=True, help_text="A survey moment's answer text (empty for an interaction's)."
    )

    class Meta:
        model = Moment
        fields = [
            "id",
            "customer",
            "source",
            "interaction",
            "source_text",
            "stage",
            "occurred_at",
            "tags",
            "polarity",
            "intensity",
            "impact",
            "reasons",
            "detected_by",
            "recall",
            "refresh_count",
            "dismissed",
            "dismissed_reason",
            "dismissed_by",
            "dismissed_at",
            "created_at",
        ]
        read_only_fields = fields

    def get_recall(self, moment: Moment) -> dict[str, float]:
        return {
            "now": moment.recall_now,
            "day_7": moment.recall_7,
            "day_30": moment.recall_30,
            "day_365": moment.recall_365,
            "stability_days": moment.stability_days,
        }


class _TagSlugs(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        super().__init__(slug_field="slug", queryset=MomentTag.objects.all(), **kwargs)

    def to_internal_value(self, data):
        # PostgreSQL cannot compare text with a NUL byte; refuse it before the lookup.
        if isinstance(data, str) and "\x00" in data:
            self.fail("invalid")
        return super().to_internal_value(data)


class PromoteSerializer(serializers.Serializer):
    interaction = serializers.IntegerField()
    tags = serializers.ListField(child=_TagSlugs(), required=False, default=list)
    note = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)


class TagsUpdateSerializer(serializers.Serializer):
    tags = serializers.ListField(child=_TagSlugs())


class DismissSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


class RememberedSerializer(serializers.Serializer):
    recall_in_30_days = serializers.FloatField(source="recall_in_30")
    moment = MomentSerializer()


class MemorySummarySerializer(serializers.Serializer):
    customer = serializers.IntegerField(source="customer.pk")
    balance = serializers.FloatField()
    trend = serializers.FloatField()
    direction = serializers.CharField()
    at_risk = serializers.BooleanField()
    moment_count = serializers.IntegerField()
    computed_at = serializers.DateTimeField(allow_null=True)
    top = RememberedSerializer(many=True)


# --- Filters --------------------------------------------------------------------------------


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


# --- Viewsets -------------------------------------------------------------------------------


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


class CanViewMoments(BasePermission):
    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("moments.view_moment")


class CanViewDashboard(BasePermission):
    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("moments.view_dashboard")


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


class HeatmapQuerySerializer(serializers.Serializer):
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    polarity = serializers.ChoiceField(choices=Polarity.choices, required=False, default="")


class HeatmapStageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()


class HeatmapTagSerializer(HeatmapStageSerializer):
    polarity = serializers.CharField()


class HeatmapCellSerializer(serializers.Serializer):
    stage = serializers.IntegerField(allow_null=True)
    tag = serializers.IntegerField(allow_null=True, help_text="null: the untagged moments")
    count = serializers.IntegerField()
    mean_impact = serializers.FloatField()
    remembered_impact = serializers.FloatField(help_text="sum(impact x recall now) / count")


# One object, though the viewset's action is `list`: without many=False the schema says array.
@extend_schema_serializer(many=False)
class HeatmapSerializer(serializers.Serializer):
    stages = HeatmapStageSerializer(many=True)
    tags = HeatmapTagSerializer(many=True)
    cells = HeatmapCellSerializer(many=True)


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
        flt = selectors.HeatmapFilter(
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            polarity=data.get("polarity", ""),
        )
        return Response(selectors.journey_heatmap(flt, user=request.user).as_dict())

"""REST API for surveys (read), invitations (create, list), responses (list, filter) and the
report (registered in memorycrm/api.py). The same access functions, services and selectors as
the HTML pages."""

from __future__ import annotations

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response as APIResponse

from customers.api.filters import customer_filter, interaction_filter
from customers.models import JourneyStage
from memorycrm.lib.api import (
    AutoSchema,
    IdFilter,
    IsoDateTimeFilter,
    MethodBeforePermissionMixin,
    StableOrderingFilter,
)
from surveys import forecast, selectors_report, services
from surveys.access import invitations_visible_to, responses_visible_to
from surveys.api.serializers import (
    ForecastQualitySerializer,
    InvitationCreatedSerializer,
    InvitationCreateSerializer,
    InvitationSerializer,
    ResponseSerializer,
    SurveySerializer,
)
from surveys.forms import ReportFilterForm
from surveys.models import Invitation, Response, Survey


class SurveyViewSet(MethodBeforePermissionMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = SurveySerializer
    queryset = Survey.objects.order_by("id")
    filterset_fields = ["active", "rating_kind"]
    ordering_fields = ["name", "id"]


class InvitationFilter(filters.FilterSet):
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    answered = filters.BooleanFilter(field_name="answered_at", lookup_expr="isnull", exclude=True)
    # Owned mode: another agent's customer or interaction is "not a valid choice", as a
    # missing one is (customers.api.filters).
    customer = customer_filter()
    interaction = interaction_filter()

    class Meta:
        model = Invitation
        fields = ["survey", "customer", "interaction", "send_status", "skipped_reason"]


@extend_schema_view(
    list=extend_schema(summary="List invitations"),
    retrieve=extend_schema(summary="Get an invitation (never its token)"),
    create=extend_schema(
        summary="Invite a customer (the link token is in this response only)",
        request=InvitationCreateSerializer,
        responses={201: InvitationCreatedSerializer},
    ),
)
class InvitationViewSet(
    MethodBeforePermissionMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = InvitationSerializer
    queryset = Invitation.objects.none()  # for permissions and the schema; see get_queryset
    filterset_class = InvitationFilter
    filter_backends = [filters.DjangoFilterBackend, StableOrderingFilter]
    ordering_fields = ["created_at", "sent_at", "answered_at", "id"]
    ordering = ["-created_at"]

    def get_queryset(self) -> QuerySet[Invitation]:
        return invitations_visible_to(self.request.user)

    def create(self, request: Request, *args, **kwargs) -> APIResponse:
        form = InvitationCreateSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        data = form.validated_data
        result = services.create_invitation(
            survey=data["survey"],
            customer=data["customer"],
            interaction=data.get("interaction"),
            created_by=request.user,
            send=data["send"],
        )
        invitation = result.invitation
        invitation.token = result.token
        invitation.url = services.answer_url(result.token) if result.token else None
        body = InvitationCreatedSerializer(invitation, context={"request": request}).data
        return APIResponse(body, status=status.HTTP_201_CREATED)


class ResponseFilter(filters.FilterSet):
    rating_min = filters.NumberFilter(field_name="rating", lookup_expr="gte")
    rating_max = filters.NumberFilter(field_name="rating", lookup_expr="lte")
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    interaction = IdFilter(field_name="invitation__interaction")
    stage = filters.ModelChoiceFilter(
        field_name="invitation__interaction__stage", queryset=JourneyStage.objects.all()
    )
    q = filters.CharFilter(field_name="answer", lookup_expr="icontains")
    customer = customer_filter()

    class Meta:
        model = Response
        fields = ["survey", "customer", "sentiment_label"]


class ResponseViewSet(MethodBeforePermissionMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = ResponseSerializer
    queryset = Response.objects.none()
    filterset_class = ResponseFilter
    filter_backends = [filters.DjangoFilterBackend, StableOrderingFilter]
    ordering_fields = ["created_at", "rating", "id"]
    ordering = ["-created_at"]

    def get_queryset(self) -> QuerySet[Response]:
        return (
            responses_visible_to(self.request.user)
            .select_related("invitation")
            .prefetch_related("moments")
        )


class CanViewReport(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("surveys.view_report")


class SurveyReportViewSet(viewsets.ViewSet):
    """The report's figures: response rate, rating distribution over time, per-stage means.
    Takes the report page's filters: survey, stage, since, until (dates), rating_min,
    rating_max, sentiment, q."""

    permission_classes = [permissions.IsAuthenticated, CanViewReport]

    @extend_schema(
        summary="Survey report figures",
        responses={200: OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter("survey", int),
            OpenApiParameter("stage", int),
            OpenApiParameter("since", OpenApiTypes.DATE),
            OpenApiParameter("until", OpenApiTypes.DATE),
            OpenApiParameter("rating_min", int),
            OpenApiParameter("rating_max", int),
            OpenApiParameter("sentiment", str, enum=["negative", "neutral", "positive"]),
            OpenApiParameter("q", str, description="Answer contains"),
        ],
    )
    def list(self, request: Request) -> APIResponse:
        form = ReportFilterForm(request.query_params)
        if not form.is_valid():
            return APIResponse(form.errors, status=status.HTTP_400_BAD_REQUEST)
        return APIResponse(selectors_report.report(request.user, form.filters()))


class OneObjectSchema(AutoSchema):
    """For a viewset whose `list` answers one object (a report), not a list of them."""

    def _is_list_view(self, serializer=None) -> bool:
        return False


class ForecastQualityViewSet(viewsets.ViewSet):
    """GET /forecast-quality/: how well the memory forecast predicts what customers pick in
    survey answers (managers): AUC of forecast recall vs picked and the calibration by decile,
    over the answers you may see; ``ready`` false and ``problem`` in words when there is not
    enough evidence."""

    permission_classes = [permissions.IsAuthenticated, CanViewReport]
    schema = OneObjectSchema()

    @extend_schema(summary="Memory forecast quality", responses=ForecastQualitySerializer)
    def list(self, request: Request) -> APIResponse:
        return APIResponse(ForecastQualitySerializer(forecast.quality(request.user)).data)

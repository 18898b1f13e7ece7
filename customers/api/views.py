"""REST API for customers, interactions and journey stages (registered in memorycrm/api.py).

Querysets are scoped by customers.access, so another agent's customer is a 404; every write
goes through customers.services, whose ValidationError becomes a 400 with field messages
(memorycrm.lib.api.exception_handler).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.dateparse import parse_datetime
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from customers import privacy, selectors, services
from customers.access import customers_visible_to, interactions_visible_to
from customers.api.filters import CustomerFilter, InteractionFilter
from customers.api.serializers import (
    ConversationInSerializer,
    ConversationSerializer,
    CustomerSerializer,
    InteractionSerializer,
    JourneyStageSerializer,
)
from customers.channels import conversations
from customers.models import Customer, Interaction, JourneyStage, search_term
from memorycrm.lib.api import MethodBeforePermissionMixin, StableOrderingFilter, needs
from memorycrm.lib.pagination import CappedCountPagination, Counted, First


class CustomerPagination(CappedCountPagination):
    """Page numbers, with a count that stays cheap at a million customers
    (memorycrm.lib.pagination); a search finds its page's ids as the customer list does, and
    counts its matches through the same index of words (CustomerViewSet.search)."""

    page_size_query_param = "page_size"
    max_page_size = 200

    def paginate_queryset(self, queryset, request, view=None):
        search = view.search(queryset) if isinstance(view, CustomerViewSet) else None
        self.first, self.counted = search or (None, None)
        return super().paginate_queryset(queryset, request, view)


class InteractionCursorPagination(CursorPagination):
    """Interactions grow without bound: a cursor keeps page 500 as cheap as page 1 and never
    repeats or skips a row when new interactions arrive between requests."""

    ordering = ("-occurred_at", "-id")
    page_size_query_param = "page_size"
    max_page_size = 200

    def decode_cursor(self, request) -> Cursor | None:
        # DRF checks a cursor's shape but not that its position is a date: a hand-made one
        # would reach the query. It is an invalid cursor like any other (404).
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            try:
                valid = parse_datetime(cursor.position) is not None
            except ValueError:
                valid = False
            if not valid:
                raise NotFound(self.invalid_cursor_message)
        return cursor


# The GDPR export holds everything about a customer: managers and admins, as CSV export.
CanExportData = needs("customers.export_customers")
# Erasing deletes a customer and their interactions: both delete permissions (admins; managers
# may delete a customer but not interactions).
CanErase = needs("customers.delete_customer", "customers.delete_interaction")


class EraseSerializer(serializers.Serializer):
    confirm = serializers.IntegerField(help_text="The customer's id again, to confirm.")


class ErasedSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField()
    erased = serializers.DictField(
        child=serializers.IntegerField(), help_text="Rows deleted, per kind."
    )


@extend_schema_view(
    list=extend_schema(
        summary="List customers (search, filter, order)",
        description="Pages by number (`page`, `page_size` up to 200). `count` is exact up to "
        "1,000 customers; beyond, it is PostgreSQL's estimate for the list without filters "
        "and 1,000 (a lower bound) for a filtered one, and `count_exact` is false. `next` "
        "is given whenever another page exists; `page=last` counts exactly.",
    ),
    retrieve=extend_schema(summary="Get a customer"),
    create=extend_schema(summary="Create a customer"),
    update=extend_schema(summary="Replace a customer's editable fields"),
    partial_update=extend_schema(summary="Change some of a customer's fields"),
    destroy=extend_schema(
        summary="Delete a customer: erases them and all their data, as /erase/ (admins)"
    ),
)
class CustomerViewSet(MethodBeforePermissionMixin, viewsets.ModelViewSet):
    serializer_class = CustomerSerializer
    pagination_class = CustomerPagination
    filter_backends = [DjangoFilterBackend, StableOrderingFilter]
    filterset_class = CustomerFilter
    ordering_fields = ["name", "created_at"]
    ordering = ["name", "id"]

    def get_queryset(self) -> QuerySet[Customer]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Customer.objects.none()
        return customers_visible_to(self.request.user)

    def search(self, customers: QuerySet[Customer]) -> tuple[First, Counted] | None:
        """For a search in name order, how its pages' ids are found and its rows counted:
        selectors.first_matches and selectors.capped_match_count over the customers the other
        filters keep (PostgreSQL's planner alone may walk the whole name index for a common
        term, and counts a common term's matches from the bitmap of all of them)."""
        params = self.request.query_params
        terms = {search_term(params.get(name, "")) for name in ("search", "q")} - {""}
        if len(terms) != 1 or customers.query.order_by != ("name", "id"):
            return None
        [term] = terms
        others = params.copy()
        for name in ("search", "q"):
            others.pop(name, None)
        unsearched = CustomerFilter(others, queryset=self.get_queryset(), request=self.request).qs

        def first(offset: int, count: int):
            return selectors.first_matches(unsearched, term, count, offset=offset)

        def counted(limit: int) -> tuple[str, Any]:
            return selectors.capped_match_count(unsearched, term, limit)

        return first, counted

    def perform_create(self, serializer: CustomerSerializer) -> None:
        serializer.instance = services.create_customer(
            created_by=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer: CustomerSerializer) -> None:
        serializer.instance = services.update_customer(
            customer=serializer.instance, by=self.request.user, **serializer.validated_data
        )

    def get_permissions(self):
        # Deleting is erasing (services.delete_customer): the same permission as /erase/.
        if self.action == "destroy":
            return [*super().get_permissions(), CanErase()]
        return super().get_permissions()

    def perform_destroy(self, instance: Customer) -> None:
        services.delete_customer(customer=instance, actor=self.request.user)

    @extend_schema(
        summary="Export everything about a customer as JSON (GDPR; managers and admins)",
        description="The customer, interactions with sentiment, moments (tags, reasons, recall), "
        "memory, survey invitations and responses, interventions, emails, alerts and tasks. "
        "One JSON document with a section per kind of data.",
        responses={200: OpenApiTypes.OBJECT},
    )
    @action(detail=True, methods=["get"], permission_classes=[IsAuthenticated, CanExportData])
    def export(self, request: Request, pk=None) -> Response:
        return Response(privacy.export_customer(customer=self.get_object()))

    @extend_schema(
        summary="Erase a customer and all their data (GDPR; admins)",
        description="Deletes the customer, interactions, moments, survey invitations and "
        "responses, interventions and the emails sent, in one transaction, and writes an audit "
        "entry (who, when, the id and counts; no personal data). `confirm` must repeat the "
        "customer's id.",
        request=EraseSerializer,
        responses={200: ErasedSerializer},
    )
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated, CanErase])
    def erase(self, request: Request, pk=None) -> Response:
        customer = self.get_object()
        confirmation = EraseSerializer(data=request.data)
        confirmation.is_valid(raise_exception=True)
        if confirmation.validated_data["confirm"] != customer.pk:
            raise ValidationError({"confirm": ["Repeat the customer's id to confirm."]})
        customer_id = customer.pk
        counts = privacy.erase_customer(customer=customer, actor=request.user)
        return Response({"customer_id": customer_id, "erased": counts})


@extend_schema_view(
    list=extend_schema(summary="List interactions, newest first (cursor pages)"),
    retrieve=extend_schema(summary="Get an interaction"),
    create=extend_schema(
        summary="Log an interaction",
        description="The interaction is stored at once with its sentiment pending (empty) and "
        "queued for scoring. `agent` is the authenticated user.",
    ),
)
class InteractionViewSet(
    MethodBeforePermissionMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = InteractionSerializer
    pagination_class = InteractionCursorPagination
    # No OrderingFilter: the cursor needs the one fixed order.
    filter_backends = [DjangoFilterBackend]
    filterset_class = InteractionFilter

    def get_queryset(self) -> QuerySet[Interaction]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Interaction.objects.none()
        # inbound_email: the attachments of an email's interaction, in the same query.
        return interactions_visible_to(self.request.user).select_related("stage", "inbound_email")

    def perform_create(self, serializer: InteractionSerializer) -> None:
        serializer.instance = services.log_interaction(
            agent=self.request.user, **serializer.validated_data
        )


@extend_schema_view(
    list=extend_schema(summary="List journey stages"),
    retrieve=extend_schema(summary="Get a journey stage"),
)
class JourneyStageViewSet(MethodBeforePermissionMixin, viewsets.ReadOnlyModelViewSet):
    queryset = JourneyStage.objects.all()
    serializer_class = JourneyStageSerializer
    filter_backends = []


@extend_schema_view(
    retrieve=extend_schema(summary="Get a conversation: its turns and sentiment trajectory"),
    create=extend_schema(
        summary="Send a chat or call transcript",
        description="Stores one inbound interaction (channel `chat` or `call`) with the "
        "transcript's turns; only the customer's turns are scored for sentiment, and the "
        "sentiment of the customer's first and last turns is kept (`opening_score`, "
        "`ending_score`). Idempotent by `external_id` (per customer): 201 when stored, 200 "
        "with the conversation already stored when sent again. The number of turns, the "
        "characters in all turns and the size of the metadata are limited (by default 500 "
        "turns, 50,000 characters, 8 KB): above them, a 400 with field messages.",
        request=ConversationInSerializer,
        responses={201: ConversationSerializer, 200: ConversationSerializer},
    ),
)
class ConversationViewSet(
    MethodBeforePermissionMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Chat and call transcripts (customers.channels.conversations). Permissions are the
    interactions' (a conversation is an interaction): agents may send them."""

    serializer_class = ConversationSerializer

    def get_queryset(self) -> QuerySet[Interaction]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Interaction.objects.none()
        return (
            interactions_visible_to(self.request.user)
            .filter(conversation__isnull=False)
            .select_related("stage", "conversation")
        )

    def create(self, request: Request, *args, **kwargs) -> Response:
        incoming = ConversationInSerializer(data=request.data, context={"request": request})
        incoming.is_valid(raise_exception=True)
        received = conversations.receive_conversation(agent=request.user, **incoming.validated_data)
        interaction = self.get_queryset().get(pk=received.interaction.pk)
        return Response(
            ConversationSerializer(interaction, context={"request": request}).data,
            status=status.HTTP_201_CREATED if received.created else status.HTTP_200_OK,
        )

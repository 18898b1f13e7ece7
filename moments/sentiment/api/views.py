"""Sentiment API: score ad-hoc texts (POST /api/v1/sentiment/) and the model's status
(GET /api/v1/sentiment/status/). Interactions' own sentiment fields are read-only on the
interactions endpoint."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from moments.sentiment import selectors
from moments.sentiment.api.serializers import (
    ScoreRequestSerializer,
    ScoreResponseSerializer,
    StatusSerializer,
)
from moments.sentiment.classifier import ModelUnavailable
from moments.sentiment.loader import get_classifier


class CanViewSentimentModel(BasePermission):
    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("moments.view_sentimentmodel")


class SentimentViewSet(viewsets.ViewSet):
    # No model queryset behind scoring: the roles that may see the model (agents and up) may use
    # it, at the "sentiment" throttle rate (scoring holds a CPU for up to seconds).
    permission_classes = [IsAuthenticated, CanViewSentimentModel]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "sentiment"

    @extend_schema(
        request=ScoreRequestSerializer,
        responses={
            200: ScoreResponseSerializer,
            400: OpenApiResponse(description="Field messages for invalid input."),
            503: OpenApiResponse(description="No sentiment model is available yet."),
        },
    )
    def create(self, request: Request) -> Response:
        """Score up to SENTIMENT_API_MAX_TEXTS texts with the active model (not stored)."""
        payload = ScoreRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            classifier = get_classifier()
        except ModelUnavailable as exc:
            return Response(
                {"detail": f"Sentiment model unavailable: {exc.reason}"},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        scores = classifier.score(payload.validated_data["texts"])
        body = {
            "model": classifier.version,
            "results": [
                {"label": s.label, "score": s.score, "confidence": s.confidence} for s in scores
            ],
        }
        return Response(ScoreResponseSerializer(body).data)

    @extend_schema(responses=StatusSerializer)
    @action(detail=False, methods=["get"], throttle_classes=[])
    def status(self, request: Request) -> Response:
        """The active model (version, metrics next to VADER), any training and its progress."""
        current = selectors.sentiment_status(history=0)
        data = {
            "state": current.state,
            "message": current.message,
            "pending": current.pending,
            "active": current.active,
            "training": current.training,
        }
        return Response(StatusSerializer(data).data)

"""Sentiment API: score ad-hoc texts (POST /api/v1/sentiment/, collected at
/api/v1/sentiment/results/<id>/ when it takes long) and the model's status
(GET /api/v1/sentiment/status/). Interactions' own sentiment fields are read-only on the
interactions endpoint.

Web processes never load the model (about 650 MB each): the texts go to a worker as a
``ScoringRequest``; the request waits up to SENTIMENT_API_WAIT_SECONDS for the scores (200),
then answers 202 with the URL where they will be."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from memorycrm.lib.api import needs
from moments.models import ScoringRequest
from moments.sentiment import selectors, services
from moments.sentiment.api.serializers import (
    PendingSerializer,
    ScoreRequestSerializer,
    ScoreResponseSerializer,
    StatusSerializer,
)

CanViewSentimentModel = needs("moments.view_sentimentmodel")


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
            202: PendingSerializer,
            400: OpenApiResponse(description="Field messages for invalid input."),
            503: OpenApiResponse(description="No sentiment model is available yet."),
        },
    )
    def create(self, request: Request) -> Response:
        """Score up to SENTIMENT_API_MAX_TEXTS texts with the active model (in a worker). The
        scores come in the answer (200) when ready within SENTIMENT_API_WAIT_SECONDS, else the
        answer is 202 with the result URL to fetch them from."""
        payload = ScoreRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        if selectors.active_sentiment_model() is None:
            return Response(
                {"detail": "Sentiment model unavailable: no model is ready yet."},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        scoring = services.request_scoring(texts=payload.validated_data["texts"], user=request.user)
        scoring = selectors.wait_for_scoring(
            scoring.pk, seconds=settings.SENTIMENT_API_WAIT_SECONDS
        )
        return self._answer(request, scoring)

    @extend_schema(
        responses={
            200: ScoreResponseSerializer,
            202: PendingSerializer,
            404: OpenApiResponse(description="No such request of yours (or expired)."),
            503: OpenApiResponse(description="The model could not score it."),
        },
    )
    @action(detail=False, methods=["get"], url_path=r"results/(?P<request_id>[0-9a-f-]{36})")
    def results(self, request: Request, request_id: str) -> Response:
        """The scores of an earlier request, once a worker has them (202 until then)."""
        scoring = ScoringRequest.objects.filter(pk=request_id, requested_by=request.user).first()
        if scoring is None:
            raise NotFound("No such scoring request of yours (results are kept for a day).")
        return self._answer(request, scoring)

    def _answer(self, request: Request, scoring: ScoringRequest) -> Response:
        if scoring.status == ScoringRequest.Status.DONE:
            body = {"model": scoring.model_version, "results": scoring.results}
            return Response(ScoreResponseSerializer(body).data)
        if scoring.status == ScoringRequest.Status.FAILED:
            return Response(
                {"detail": f"Sentiment model unavailable: {scoring.error}"},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        url = request.build_absolute_uri(
            reverse("api-sentiment-results", kwargs={"request_id": str(scoring.pk)})
        )
        body = {"id": str(scoring.pk), "status": scoring.status, "url": url}
        return Response(
            PendingSerializer(body).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": url, "Retry-After": "2"},
        )

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

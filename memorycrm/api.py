"""The one API router: every app registers its viewsets here, under /api/v1/."""

from rest_framework.routers import DefaultRouter

from customers.api.views import (
    ConversationViewSet,
    CustomerViewSet,
    InteractionViewSet,
    JourneyStageViewSet,
)
from interventions.api.views import (
    AlertViewSet,
    FollowUpTaskViewSet,
    InterventionViewSet,
    RuleViewSet,
)
from memorycrm.tokens import TokenViewSet
from moments.memory.api import views as memory_api
from moments.sentiment.api.views import SentimentViewSet
from surveys.api.views import (
    ForecastQualityViewSet,
    InvitationViewSet,
    ResponseViewSet,
    SurveyReportViewSet,
    SurveyViewSet,
)

router = DefaultRouter()
# customers
router.register("customers", CustomerViewSet, basename="api-customer")
router.register("interactions", InteractionViewSet, basename="api-interaction")
router.register("stages", JourneyStageViewSet, basename="api-stage")
router.register("conversations", ConversationViewSet, basename="api-conversation")
# moments: sentiment and memory
router.register("sentiment", SentimentViewSet, basename="api-sentiment")
router.register("moments", memory_api.MomentViewSet, basename="api-moment")
router.register("moment-tags", memory_api.MomentTagViewSet, basename="api-moment-tag")
router.register("tag-categories", memory_api.TagCategoryViewSet, basename="api-tag-category")
router.register("customer-memory", memory_api.CustomerMemoryViewSet, basename="api-customer-memory")
router.register("journey-heatmap", memory_api.JourneyHeatmapViewSet, basename="api-journey-heatmap")
# surveys
router.register("surveys", SurveyViewSet, basename="api-survey")
router.register("survey-invitations", InvitationViewSet, basename="api-survey-invitation")
router.register("survey-responses", ResponseViewSet, basename="api-survey-response")
router.register("survey-report", SurveyReportViewSet, basename="api-survey-report")
router.register("forecast-quality", ForecastQualityViewSet, basename="api-forecast-quality")
# interventions
router.register("rules", RuleViewSet, basename="api-rule")
router.register("interventions", InterventionViewSet, basename="api-intervention")
router.register("alerts", AlertViewSet, basename="api-alert")
router.register("tasks", FollowUpTaskViewSet, basename="api-task")
# API tokens: log in (issue), log out (revoke)
router.register("auth/token", TokenViewSet, basename="api-token")

"""The one API router: every app registers its viewsets here, under /api/v1/."""

from rest_framework.routers import DefaultRouter

from customers.api.views import CustomerViewSet, InteractionViewSet, JourneyStageViewSet

router = DefaultRouter()
router.register("customers", CustomerViewSet, basename="api-customer")
router.register("interactions", InteractionViewSet, basename="api-interaction")
router.register("stages", JourneyStageViewSet, basename="api-stage")

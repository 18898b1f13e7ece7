from django.apps import AppConfig

from memorycrm.lib import slots


class SurveysConfig(AppConfig):
    name = "surveys"

    def ready(self) -> None:
        from surveys import privacy  # noqa: F401  (its part of the GDPR export/erasure)

        # The customer pages and the nav show surveys without knowing this app.
        slots.register("nav", "surveys/slots/nav.html", order=30)
        slots.register("customer-panels", "surveys/slots/customer_panels.html", order=20)
        slots.register("interaction-foot", "surveys/slots/interaction_foot.html", order=10)

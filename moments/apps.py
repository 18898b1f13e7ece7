from django.apps import AppConfig

from memorycrm.lib import slots


class MomentsConfig(AppConfig):
    name = "moments"

    def ready(self) -> None:
        import moments.memory.receivers  # noqa: F401  (moment detection after scoring)
        import moments.privacy  # noqa: F401  (its part of the GDPR export/erasure)
        import moments.sentiment.receivers  # noqa: F401  (scoring of logged interactions)

        # The customer pages and the nav show moments without knowing this app.
        slots.register("nav", "moments/slots/nav.html", order=20)
        slots.register("customer-panels", "moments/slots/customer_panels.html", order=10)
        slots.register("interaction-tools", "moments/slots/interaction_tools.html", order=10)

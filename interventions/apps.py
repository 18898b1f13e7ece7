from django.apps import AppConfig

from memorycrm.lib import slots


class InterventionsConfig(AppConfig):
    name = "interventions"

    def ready(self) -> None:
        import interventions.privacy  # noqa: F401  (its part of the GDPR export/erasure)
        from interventions import receivers  # noqa: F401  (connects the signal receivers)

        # The customer pages and the nav show interventions without knowing this app.
        slots.register("nav", "interventions/slots/nav.html", order=10)
        slots.register("customer-panels", "interventions/slots/customer_panels.html", order=30)
        slots.register("interaction-foot", "interventions/slots/interaction_foot.html", order=20)

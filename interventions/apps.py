from django.apps import AppConfig


class InterventionsConfig(AppConfig):
    name = "interventions"

    def ready(self) -> None:
        import interventions.privacy  # noqa: F401  (its part of the GDPR export/erasure)
        from interventions import receivers  # noqa: F401  (connects the signal receivers)

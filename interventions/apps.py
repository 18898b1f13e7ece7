from django.apps import AppConfig


class InterventionsConfig(AppConfig):
    name = "interventions"

    def ready(self) -> None:
        from interventions import receivers  # noqa: F401  (connects the signal receivers)

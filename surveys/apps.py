from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "surveys"

    def ready(self) -> None:
        from surveys import privacy  # noqa: F401  (its part of the GDPR export/erasure)

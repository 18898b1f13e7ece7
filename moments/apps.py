from django.apps import AppConfig


class MomentsConfig(AppConfig):
    name = "moments"

    def ready(self) -> None:
        import moments.memory.receivers  # noqa: F401  (moment detection after scoring)
        import moments.privacy  # noqa: F401  (its part of the GDPR export/erasure)
        import moments.sentiment.receivers  # noqa: F401  (scoring of logged interactions)

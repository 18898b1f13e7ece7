from django.apps import AppConfig


class MemoryCRMConfig(AppConfig):
    """The project itself: its start-up checks (memorycrm/checks.py)."""

    name = "memorycrm"
    label = "memorycrm"
    verbose_name = "MemoryCRM"

    def ready(self) -> None:
        from memorycrm import checks  # noqa: F401 (registers the checks; needs the app registry)

from django.apps import AppConfig


class MemoryCRMConfig(AppConfig):
    """The project itself: its start-up checks (memorycrm/checks.py)."""

    name = "memorycrm"
    label = "memorycrm"
    verbose_name = "MemoryCRM"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from memorycrm import checks  # noqa: F401 (registers the checks; needs the app registry)
        from memorycrm.lib import timezones

        user_logged_in.connect(timezones.on_login, dispatch_uid="memorycrm-time-zone")

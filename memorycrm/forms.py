"""Project-level forms: the password reset request and the user's own settings."""

from __future__ import annotations

import zoneinfo
from functools import lru_cache

from django import forms
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.sites.shortcuts import get_current_site

from memorycrm.lib.queue import enqueue


class QueuedPasswordResetForm(PasswordResetForm):
    """Django's form, but the email is sent by a worker (memorycrm.tasks.send_password_reset):
    an answer that waited for the mail server only when the address has an account would tell
    known addresses from unknown ones by its time. The task gets the user's id, never the link:
    the worker makes the one-time token, so no reset link sits in the task queue."""

    # Narrower than Django's save() on purpose (the templates and token generator are the
    # worker's); PasswordResetView passes every argument by keyword, which this accepts.
    def save(  # type: ignore[override]
        self, domain_override=None, use_https=False, request=None, **kwargs
    ) -> None:
        domain = domain_override or get_current_site(request).domain
        for user in self.get_users(self.cleaned_data["email"]):
            enqueue("memorycrm.tasks.send_password_reset", user.pk, domain, use_https)


@lru_cache(maxsize=1)
def zone_choices() -> list[tuple[str, str]]:
    names = sorted(
        z for z in zoneinfo.available_timezones() if "/" in z and not z.startswith("Etc/")
    )
    return [(name, name.replace("_", " ")) for name in names + ["UTC"]]


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(
        label="Time zone",
        required=False,
        help_text="Times on every page are shown, and read from forms, in this zone.",
    )

    def __init__(self, *args, browser_zone: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        time_zone = self.fields["time_zone"]
        assert isinstance(time_zone, forms.ChoiceField)  # declared above (a copy per form)
        time_zone.choices = [
            ("", f"My browser's zone ({browser_zone})"),
            *zone_choices(),
        ]

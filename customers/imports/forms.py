"""One form per row: validation only, no database query."""

from __future__ import annotations

import functools
import zoneinfo
from typing import Any

from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError

from customers.imports.columns import FALSE_WORDS, TRUE_WORDS
from customers.models import Interaction, JourneyStage


@functools.cache
def _time_zones() -> frozenset[str]:
    # available_timezones() walks the tz database on every call: far too slow per row.
    return frozenset(zoneinfo.available_timezones())


class _SharedFields(dict):
    """The row forms never change their fields, so each form shares them instead of deep-copying
    them (Django copies a form's fields for every instance: a third of an import's time)."""

    def __deepcopy__(self, memo: dict) -> _SharedFields:
        return self


class CustomerRowForm(forms.Form):
    name = forms.CharField(max_length=200)
    email = forms.EmailField(max_length=254, required=False)
    company = forms.CharField(max_length=200, required=False)
    phone = forms.CharField(max_length=40, required=False)
    external_ref = forms.CharField(max_length=100, required=False)
    owner = forms.CharField(required=False)
    timezone = forms.CharField(max_length=64, required=False)
    notes = forms.CharField(required=False, strip=False)
    survey_opt_out = forms.CharField(required=False)

    def __init__(self, data: dict[str, str], *, users: dict[str, AbstractBaseUser]) -> None:
        super().__init__(data)
        self.users = users

    def clean_owner(self) -> AbstractBaseUser | None:
        return _user(self.cleaned_data["owner"], self.users)

    def clean_timezone(self) -> str:
        value = self.cleaned_data["timezone"]
        if value and value not in _time_zones():
            raise ValidationError(f"{value} is not a known time zone (use e.g. Europe/Paris).")
        return value

    def clean_survey_opt_out(self) -> bool:
        value = self.cleaned_data["survey_opt_out"].lower()
        if value in TRUE_WORDS:
            return True
        if value in FALSE_WORDS:
            return False
        raise ValidationError(f"{value} is not true or false.")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not (data.get("email") or data.get("external_ref")) and not self.has_error("email"):
            raise ValidationError(
                "Give an email or an external_ref: the next import matches customers on them."
            )
        return data


class InteractionRowForm(forms.Form):
    customer_email = forms.EmailField(max_length=254, required=False)
    customer_external_ref = forms.CharField(max_length=100, required=False)
    channel = forms.CharField()
    direction = forms.CharField(required=False)
    occurred_at = forms.DateTimeField(
        error_messages={
            "invalid": "Enter a date and time in ISO 8601, e.g. 2026-03-01T14:30:00+01:00."
        }
    )
    stage = forms.CharField(required=False)
    subject = forms.CharField(max_length=200, required=False)
    body = forms.CharField(required=False)
    external_ref = forms.CharField(max_length=100, required=False)
    agent = forms.CharField(required=False)

    def __init__(
        self,
        data: dict[str, str],
        *,
        users: dict[str, AbstractBaseUser],
        stages: dict[str, JourneyStage],
    ) -> None:
        super().__init__(data)
        self.users = users
        self.stages = stages

    def clean_channel(self) -> str:
        return _choice(self.cleaned_data["channel"], Interaction.Channel, "channel")

    def clean_direction(self) -> str:
        value = self.cleaned_data["direction"]
        if not value:
            return Interaction.Direction.INBOUND
        return _choice(value, Interaction.Direction, "direction")

    def clean_stage(self) -> JourneyStage | None:
        value = self.cleaned_data["stage"]
        if not value:
            return None
        stage = self.stages.get(value.lower())
        if stage is None:
            raise ValidationError(f"{value} is not a journey stage (use its slug or its name).")
        return stage

    def clean_agent(self) -> AbstractBaseUser | None:
        return _user(self.cleaned_data["agent"], self.users)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not (
            data.get("customer_email")
            or data.get("customer_external_ref")
            or self.has_error("customer_email")
        ):
            self.add_error(None, "Give the customer_email or the customer_external_ref.")
        if "occurred_at" in data:
            # The same rules as every other write path (something to say, not in the future).
            interaction = Interaction(
                subject=data.get("subject", ""),
                body=data.get("body", ""),
                occurred_at=data["occurred_at"],
            )
            try:
                interaction.clean()
            except ValidationError as error:
                for name, messages in error.message_dict.items():
                    self.add_error(name if name in self.fields else None, messages)
        return data


CustomerRowForm.base_fields = _SharedFields(CustomerRowForm.base_fields)
InteractionRowForm.base_fields = _SharedFields(InteractionRowForm.base_fields)


def _user(username: str, users: dict[str, AbstractBaseUser]) -> AbstractBaseUser | None:
    if not username:
        return None
    user = users.get(username)
    if user is None:
        raise ValidationError(f"There is no user named {username}.")
    return user


def _choice(value: str, choices: type, column: str) -> str:
    by_word = {v: v for v in choices.values} | {
        str(label).lower(): v for v, label in choices.choices
    }
    try:
        return by_word[value.lower()]
    except KeyError:
        raise ValidationError(
            f"{value} is not a {column} (use {', '.join(choices.values)})."
        ) from None


def error_reason(form: forms.Form) -> str:
    """One line naming each bad column and what is wrong with it."""
    parts = []
    for name, messages in form.errors.items():
        text = " ".join(message.rstrip(".") + "." for message in messages).rstrip(".")
        parts.append(text if name == "__all__" else f"{name}: {text}")
    return "; ".join(parts) + "."

import zoneinfo

from django.core.exceptions import ValidationError


def validate_timezone(value: str) -> None:
    if value and value not in zoneinfo.available_timezones():
        raise ValidationError(
            "%(value)s is not a known time zone (use an IANA name such as Europe/Paris).",
            params={"value": value},
            code="invalid_timezone",
        )

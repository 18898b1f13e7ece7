import json

REDACTED = "***"


def redact_secrets(value: str) -> str:
    """A JSON config as logged, with the value of every key that names a secret hidden.

    Used for Rule.action_config: a webhook rule may carry its signing secret, which the audit log
    (readable by managers) must not show; the other keys stay readable before/after.
    """
    try:
        data = json.loads(value)
    except (TypeError, ValueError):
        return REDACTED
    return json.dumps(redact(data), sort_keys=True)


def redact(data):
    """`data` (JSON-like) with the value of every key that names a secret replaced by REDACTED."""
    if isinstance(data, dict):
        return {
            key: REDACTED if names_a_secret(key) else redact(item) for key, item in data.items()
        }
    if isinstance(data, list):
        return [redact(item) for item in data]
    return data


def names_a_secret(key) -> bool:
    return "secret" in str(key).lower()

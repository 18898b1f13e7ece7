"""Chat and call transcripts in (POST /api/v1/conversations/): one interaction per conversation.

The interaction's body is the customer's turns only, so sentiment reads the customer's words
and never an agent's; the whole exchange is kept on its Conversation for the timeline. A
conversation is idempotent by its external id (per customer): a redelivery returns the same
interaction and stores nothing new.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from customers.models import Conversation, Customer, Interaction, JourneyStage
from customers.services import log_interaction

CHANNELS = (Interaction.Channel.CHAT, Interaction.Channel.CALL)
CHANNEL_CHOICES = [(c.value, c.label) for c in CHANNELS]  # the API's (and its schema's) enum
SPEAKERS = tuple(Conversation.Speaker.values)


@dataclass(frozen=True)
class Received:
    interaction: Interaction
    created: bool  # False: a redelivery of a conversation already stored


def customer_text(turns: list[dict[str, Any]]) -> str:
    """What the customer said, turn by turn: the text sentiment scores."""
    return "\n".join(
        t["text"].strip() for t in turns if t["speaker"] == Conversation.Speaker.CUSTOMER
    )


def validate(
    *,
    channel: str,
    external_id: str,
    started_at: datetime,
    ended_at: datetime,
    turns: Any,
    metadata: Any,
) -> list[dict[str, str]]:
    """The turns, cleaned ([{"speaker", "text"}]), or ValidationError with a message per field.
    The caps (CONVERSATION_MAX_TURNS, CONVERSATION_MAX_CHARS, CONVERSATION_METADATA_MAX_BYTES)
    keep one request from storing an unbounded row."""
    errors: dict[str, list[str]] = {}
    if channel not in CHANNELS:
        errors.setdefault("channel", []).append("A conversation is a chat or a call.")
    if not external_id.strip():
        errors.setdefault("external_id", []).append(
            "Give the conversation's id in your system: it makes redelivery safe."
        )
    if started_at and ended_at and ended_at < started_at:
        errors.setdefault("ended_at", []).append("A conversation cannot end before it starts.")
    cleaned: list[dict[str, str]] = []
    if not isinstance(turns, list) or not turns:
        errors.setdefault("turns", []).append("Give at least one turn.")
    else:
        cap = settings.CONVERSATION_MAX_TURNS
        if len(turns) > cap:
            errors.setdefault("turns", []).append(
                f"At most {cap:,} turns per conversation (this one has {len(turns):,})."
            )
        for number, turn in enumerate(turns[:cap], start=1):
            speaker = turn.get("speaker") if isinstance(turn, dict) else None
            text = turn.get("text") if isinstance(turn, dict) else None
            if speaker not in SPEAKERS or not isinstance(text, str) or not text.strip():
                errors.setdefault("turns", []).append(
                    f"Turn {number}: needs a speaker ({' or '.join(SPEAKERS)}) and some text."
                )
                continue
            if "\x00" in text:
                errors.setdefault("turns", []).append(f"Turn {number}: NUL characters.")
                continue
            cleaned.append({"speaker": speaker, "text": text.strip()})
        total = sum(len(t["text"]) for t in cleaned)
        if total > settings.CONVERSATION_MAX_CHARS:
            errors.setdefault("turns", []).append(
                f"The turns are limited to {settings.CONVERSATION_MAX_CHARS:,} characters in "
                f"all (these have {total:,})."
            )
        if "turns" not in errors and not any(t["speaker"] == "customer" for t in cleaned):
            errors["turns"] = ["No customer turn: there is nothing the customer said to record."]
    if not isinstance(metadata, dict):
        errors.setdefault("metadata", []).append("Metadata is a JSON object.")
    else:
        size = len(json.dumps(metadata, ensure_ascii=False).encode())
        cap = settings.CONVERSATION_METADATA_MAX_BYTES
        if size > cap:
            errors.setdefault("metadata", []).append(
                f"Metadata is limited to {cap:,} bytes of JSON (this has {size:,})."
            )
    if errors:
        raise ValidationError(errors)
    return cleaned


def _existing(customer: Customer, external_id: str) -> Interaction | None:
    interaction = (
        Interaction.objects.select_related("conversation")
        .filter(customer=customer, external_ref=external_id)
        .first()
    )
    if interaction is not None and not hasattr(interaction, "conversation"):
        raise ValidationError(
            {
                "external_id": "This customer already has an interaction with this external "
                "reference, and it is not a conversation."
            }
        )
    return interaction


def receive_conversation(
    *,
    customer: Customer,
    channel: str,
    external_id: str,
    started_at: datetime,
    ended_at: datetime,
    turns: Any,
    metadata: Any = None,
    stage: JourneyStage | None = None,
    agent: AbstractBaseUser | None = None,
) -> Received:
    """Store a chat or call as one inbound interaction (sentiment pending, queued for scoring on
    commit) with its Conversation, or return the one already stored under ``external_id`` for
    this customer (a redelivery, even one racing the first delivery). Raises ValidationError."""
    external_id = external_id.strip()
    metadata = {} if metadata is None else metadata
    cleaned = validate(
        channel=channel,
        external_id=external_id,
        started_at=started_at,
        ended_at=ended_at,
        turns=turns,
        metadata=metadata,
    )
    existing = _existing(customer, external_id)
    if existing is not None:
        return Received(existing, created=False)
    try:
        with transaction.atomic():
            interaction = log_interaction(
                customer=customer,
                channel=channel,
                direction=Interaction.Direction.INBOUND,
                occurred_at=started_at,
                stage=stage,
                body=customer_text(cleaned),
                agent=agent,
                external_ref=external_id,
            )
            conversation = Conversation(
                interaction=interaction,
                started_at=started_at,
                ended_at=ended_at,
                turns=cleaned,
                metadata=metadata,
            )
            conversation.full_clean()
            conversation.save()
    except (IntegrityError, ValidationError):
        # The same conversation delivered twice at once: the other request stored it after
        # our look-up (our insert hit the unique constraint, or full_clean saw the row).
        existing = _existing(customer, external_id)
        if existing is None:
            raise
        return Received(existing, created=False)
    return Received(interaction, created=True)

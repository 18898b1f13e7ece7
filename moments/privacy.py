"""What moments holds about a customer, for the GDPR export and erasure (customers.privacy):
memory moments with their tags, reasons and recall forecast, the memory balance, and agents'
sentiment corrections (they copy the interaction's text)."""

from __future__ import annotations

from typing import Any

from customers import privacy
from customers.models import Customer
from moments.models import CustomerMemory, Moment, MomentTagging, SentimentCorrection


def export(customer: Customer) -> dict[str, Any]:
    moments = (
        Moment.objects.filter(customer=customer)
        .select_related("stage", "created_by", "dismissed_by")
        .prefetch_related("taggings__tag")
        .order_by("occurred_at", "id")
    )
    memory = CustomerMemory.objects.filter(customer=customer).first()
    corrections = SentimentCorrection.objects.filter(interaction__customer=customer).select_related(
        "corrected_by"
    )
    return {
        "moments": [_moment(m) for m in moments],
        "customer_memory": privacy.values(
            memory,
            ["balance", "previous_balance", "trend", "at_risk", "moment_count", "computed_at"],
        )
        if memory
        else None,
        "sentiment_corrections": [
            {
                **privacy.values(
                    c, ["interaction_id", "label", "previous_label", "text", "corrected_at"]
                ),
                "corrected_by": privacy.username(c.corrected_by),
            }
            for c in corrections
        ],
    }


def _moment(moment: Moment) -> dict[str, Any]:
    return {
        **privacy.values(
            moment,
            [
                "id",
                "source",
                "interaction_id",
                "source_text",
                "source_score",
                "source_confidence",
                "occurred_at",
                "polarity",
                "intensity",
                "impact",
                "reasons",
                "detected_by",
                "dismissed",
                "dismissed_reason",
                "dismissed_at",
                "created_at",
            ],
        ),
        "stage": moment.stage.name if moment.stage else None,
        "created_by": privacy.username(moment.created_by),
        "dismissed_by": privacy.username(moment.dismissed_by),
        "tags": [
            {
                "tag": t.tag.name,
                "slug": t.tag.slug,
                "source": t.source,
                "added_at": t.added_at,
            }
            for t in moment.taggings.all()
        ],
        "recall": privacy.values(
            moment,
            [
                "recall_now",
                "recall_7",
                "recall_30",
                "recall_365",
                "stability_days",
                "refresh_count",
                "refreshed_at",
                "computed_at",
            ],
        ),
    }


def erase(customer: Customer) -> dict[str, int]:
    return {
        "moment_tags": privacy.delete_rows(MomentTagging.objects.filter(moment__customer=customer)),
        "moments": privacy.delete_rows(Moment.objects.filter(customer=customer)),
        "customer_memory": privacy.delete_rows(CustomerMemory.objects.filter(customer=customer)),
        "sentiment_corrections": privacy.delete_rows(
            SentimentCorrection.objects.filter(interaction__customer=customer)
        ),
    }


privacy.register("moments", export=export, erase=erase)

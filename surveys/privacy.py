"""What surveys holds about a customer, for the GDPR export and erasure (customers.privacy):
invitations (where each link was sent; never the link token hashes) and responses."""

from __future__ import annotations

from typing import Any

from customers import privacy
from customers.models import Customer
from surveys.models import Invitation, Response, SurveyHold


def export(customer: Customer) -> dict[str, Any]:
    invitations = (
        Invitation.objects.filter(customer=customer)
        .select_related("survey", "created_by")
        .order_by("created_at", "id")
    )
    responses = (
        Response.objects.filter(customer=customer)
        .select_related("survey")
        .prefetch_related("moments")
        .order_by("created_at", "id")
    )
    return {
        "survey_holds": [
            privacy.values(h, ["id", "key", "reason", "created_at"])
            for h in SurveyHold.objects.filter(customer=customer).order_by("created_at", "id")
        ],
        "survey_invitations": [
            {
                # token_hash and previous_token_hash are left out on purpose.
                **privacy.values(
                    i,
                    [
                        "id",
                        "interaction_id",
                        "created_at",
                        "expires_at",
                        "send_status",
                        "send_attempts",
                        "sent_to",
                        "sent_at",
                        "reminder_sent_at",
                        "skipped_reason",
                        "answered_at",
                        "state",
                    ],
                ),
                "survey": i.survey.name,
                "created_by": privacy.username(i.created_by),
            }
            for i in invitations
        ],
        "survey_responses": [
            {
                **privacy.values(
                    r, ["id", "invitation_id", "moment_id", "rating", "answer", "created_at"]
                ),
                "survey": r.survey.name,
                "moments": [m.pk for m in r.moments.all()],
                "sentiment": privacy.sentiment(r),
            }
            for r in responses
        ],
    }


def erase(customer: Customer) -> dict[str, int]:
    return {
        "survey_responses": privacy.delete_rows(Response.objects.filter(customer=customer)),
        "survey_invitations": privacy.delete_rows(Invitation.objects.filter(customer=customer)),
        "survey_holds": privacy.delete_rows(SurveyHold.objects.filter(customer=customer)),
    }


privacy.register("surveys", export=export, erase=erase)

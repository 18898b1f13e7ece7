"""Email in → the real scoring pipeline: what the customer wrote now is what is scored."""

from django_q.models import OrmQ

from customers.channels.inbound import ingest_email
from customers.models import Interaction
from moments.sentiment import tasks
from tests.channels.mail import make_email

ANGRY_REPLY_TO_A_HAPPY_EMAIL = """This is unacceptable. I am furious, the parcel is broken again.

Regards,
Ada

On Mon, Nov 30, 2026 at 9:12 AM MemoryCRM <support@memorycrm.test> wrote:
> Thank you so much for your order! We are delighted, you are wonderful.
> We love having you as a customer, have a fantastic, happy day!
"""


def _queued_ids() -> list[int]:
    return [
        pk
        for task in OrmQ.objects.all()
        if task.task["func"] == "moments.sentiment.tasks.score_interactions"
        for pk in task.task["args"][0]
    ]


def test_reply_is_scored_on_the_customers_words_not_the_quote(
    customer, sentiment_model, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        result = ingest_email(
            make_email(subject="Re: Thank you for your order!", text=ANGRY_REPLY_TO_A_HAPPY_EMAIL),
            source="test",
        )
        ingest_email(
            make_email(subject="Out of Office", headers={"Auto-Submitted": "auto-replied"}),
            source="test",
        )
    assert _queued_ids() == [result.interaction_id]  # the auto-reply is never queued

    tasks.score_interactions(_queued_ids())

    interaction = Interaction.objects.get(pk=result.interaction_id)
    assert interaction.sentiment_label == "negative"
    assert interaction.sentiment_score < 0

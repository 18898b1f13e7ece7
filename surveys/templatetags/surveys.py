"""The bridge into the customers app's pages (customers never imports surveys):

{% survey_invite interaction %}: per timeline item, "Ask what stood out" or the invitation's state.
{% survey_answers customer %}: the customer's latest survey answers, for the customer page.
"""

from __future__ import annotations

from django import template

from customers.models import Customer, Interaction
from memorycrm.lib.pagecache import for_page_item
from surveys import selectors

register = template.Library()


@register.inclusion_tag("surveys/_invite.html", takes_context=True)
def survey_invite(context, interaction: Interaction) -> dict:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.has_perm("surveys.add_invitation"):
        return {"hidden": True}
    # One query for the whole timeline page, not one per item: the first call loads the
    # latest invitation of every interaction on the page and keeps them on the request.
    invitation = for_page_item(
        context,
        interaction.pk,
        selectors.latest_invitations,
        holder=request,
        key="_survey_latest_invitations",
    )
    return {"interaction": interaction, "invitation": invitation}


@register.inclusion_tag("surveys/_customer_answers.html", takes_context=True)
def survey_answers(context, customer: Customer) -> dict:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.has_perm("surveys.view_response"):
        return {"hidden": True}
    responses = selectors.customer_responses(customer)
    gaps = selectors.memory_gaps(responses)
    return {"customer": customer, "items": [(r, gaps[r.pk]) for r in responses]}

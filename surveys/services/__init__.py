"""Every write of the surveys app, one module per domain:

invitations.py  inviting customers (one or many): frequency limit, opt-outs, skipped invitations
emails.py       the invitation emails and reminders (each sent at most once), the opt-out link
answers.py      storing a customer's answer exactly once (the public page's hot path)
scoring.py      in the worker: the answers' sentiment, the moments they become or recall
tag_weights.py  recalibrating tag impact weights from survey outcomes
memory_fit.py   fitting the memory forecast's parameters to the answers' evidence (a proposal)

The services the rest of the project calls are importable from here (``from surveys import
services``; ``services.create_invitation(…)``); everything else stays in its module.
"""

from surveys.services.answers import InvitationUnavailable, submit_response
from surveys.services.emails import due_reminder_ids, opt_out, retry_ids, send_invitation_email
from surveys.services.invitations import answer_url, bulk_invite, create_invitation
from surveys.services.memory_fit import fit_memory_model
from surveys.services.scoring import (
    make_answer_moments,
    note_recalls,
    pending_response_ids,
    score_responses,
)
from surveys.services.tag_weights import apply_proposals, recalibrate_tags, tag_evidence

__all__ = [
    "InvitationUnavailable",
    "answer_url",
    "apply_proposals",
    "bulk_invite",
    "create_invitation",
    "due_reminder_ids",
    "fit_memory_model",
    "make_answer_moments",
    "note_recalls",
    "opt_out",
    "pending_response_ids",
    "recalibrate_tags",
    "retry_ids",
    "score_responses",
    "send_invitation_email",
    "submit_response",
    "tag_evidence",
]

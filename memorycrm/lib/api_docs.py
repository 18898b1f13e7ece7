"""The words integrators read in the API docs (/api/docs/): one group per resource, and a
summary and description per operation, written for someone calling the API rather than for
someone reading our code. memorycrm.lib.api.AutoSchema takes them from here instead of the
viewsets' docstrings, which are notes for developers. An operation's own
``@extend_schema(summary=…, description=…)`` still wins.
"""

from __future__ import annotations

# URL prefix under /api/v1/ -> (group, one, many): "List customers", "Get a customer".
RESOURCES: dict[str, tuple[str, str, str]] = {
    "customers": ("Customers", "a customer", "customers"),
    "interactions": ("Interactions", "an interaction", "interactions"),
    "stages": ("Journey stages", "a journey stage", "journey stages"),
    "conversations": ("Interactions", "a conversation", "conversations"),
    "sentiment": ("Sentiment", "a sentiment score", "sentiment scores"),
    "moments": ("Moments", "a memory moment", "memory moments"),
    "moment-tags": ("Tags", "a moment tag", "moment tags"),
    "tag-categories": ("Tags", "a tag category", "tag categories"),
    "customer-memory": ("Memory", "a customer's memory", "customers' memory"),
    "journey-heatmap": ("Memory", "the journey heatmap", "journey heatmap cells"),
    "forecast-quality": ("Memory", "the memory forecast's quality", "forecast quality figures"),
    "surveys": ("Surveys", "a survey", "surveys"),
    "survey-invitations": ("Surveys", "a survey invitation", "survey invitations"),
    "survey-responses": ("Surveys", "a survey response", "survey responses"),
    "survey-report": ("Surveys", "the survey report", "survey report figures"),
    "rules": ("Rules", "a rule", "rules"),
    "interventions": ("Interventions", "an intervention", "interventions"),
    "alerts": ("Alerts", "an alert", "alerts"),
    "tasks": ("Tasks", "a follow-up task", "follow-up tasks"),
    "auth": ("Authentication", "an API token", "API tokens"),
}

# One description per group, shown above its operations.
TAGS: list[dict[str, str]] = [
    {"name": "Customers", "description": "The people you serve: contact details, owner, stage."},
    {
        "name": "Interactions",
        "description": "Calls, emails, chats and meetings logged against a customer. Each is "
        "scored for sentiment shortly after it is logged.",
    },
    {"name": "Journey stages", "description": "The stages of the customer journey."},
    {
        "name": "Sentiment",
        "description": "Score texts for sentiment, and see which model is in use.",
    },
    {
        "name": "Moments",
        "description": "Memory moments: the interactions a customer is likely to remember, "
        "tagged with what made them memorable.",
    },
    {"name": "Tags", "description": "The tags moments carry, grouped in categories."},
    {
        "name": "Memory",
        "description": "What customers are likely to remember: per customer, and across the "
        "journey.",
    },
    {
        "name": "Surveys",
        "description": "Surveys, the invitations sent to customers, their answers and the report.",
    },
    {
        "name": "Rules",
        "description": "Automatic reactions to events (an alert, an email, a follow-up task).",
    },
    {
        "name": "Interventions",
        "description": "Each time a rule fired: what it did, when, and whether it worked.",
    },
    {"name": "Alerts", "description": "Alerts for you, from the rules."},
    {"name": "Tasks", "description": "Follow-up tasks assigned to you."},
    {
        "name": "Authentication",
        "description": "API tokens: log in with a user name and password to get one, send it as "
        "`Authorization: Token <token>`, log out to revoke it. Tokens expire; the server keeps "
        "only a hash of each.",
    },
]

# (prefix, action) -> (summary, description). Missing: a summary from the action and nouns.
OPERATIONS: dict[tuple[str, str], tuple[str, str]] = {
    ("customers", "list"): ("", "Search by name, email or company; filter and order the list."),
    ("interactions", "list"): (
        "",
        "Newest first. Follow the `next` link to page through; it stays correct while new "
        "interactions arrive.",
    ),
    ("interactions", "retrieve"): ("", "With its sentiment once scored (empty until then)."),
    ("stages", "list"): ("", "In journey order."),
    ("sentiment", "create"): (
        "Score texts for sentiment",
        "A worker scores each text with the model in use: a label, a score from -1 to +1 "
        "and a confidence. When the scores are not ready within a few seconds the answer is "
        "202 with the URL to fetch them from. Answers 503 while no model is ready yet.",
    ),
    ("sentiment", "results"): (
        "Get the scores of earlier texts",
        "The scores of a request that was answered 202: 202 again until a worker has scored "
        "it. Only for the user who sent the texts; kept for a day.",
    ),
    ("sentiment", "status"): (
        "Sentiment model status",
        "The model in use with its accuracy figures, and any training under way with its progress.",
    ),
    ("moments", "list"): (
        "",
        "Moments of the customers you may see, from interactions and from survey answers; "
        "filter by customer, tag, stage, polarity, source or date.",
    ),
    ("moments", "create"): (
        "Mark an interaction as a moment",
        "Makes the interaction a memory moment with the given tags and an optional note.",
    ),
    ("moments", "partial_update"): ("Change a moment's tags", "Replaces the moment's tags."),
    ("moments", "dismiss"): (
        "Dismiss a moment",
        "The moment stops counting towards the customer's memory; the reason is kept.",
    ),
    ("moment-tags", "list"): ("", "Retired tags are included, with `active` false."),
    ("customer-memory", "retrieve"): (
        "Get a customer's memory",
        "The balance of positive and negative moments, its trend, whether the memory is at "
        "risk, and the moments the customer is most likely to remember in 30 days. The id is "
        "the customer's.",
    ),
    ("journey-heatmap", "list"): (
        "Journey heatmap",
        "For each journey stage and tag: how many moments, their mean impact and the impact "
        "weighted by how well customers remember them. Filter by dates and polarity.",
    ),
    ("survey-responses", "list"): (
        "",
        "Filter by survey, customer, rating, stage, sentiment, date or words in the answer.",
    ),
    ("survey-report", "list"): (
        "",
        "Response rate, the ratings over time and the mean rating per journey stage, for the "
        "answers the filters select.",
    ),
    ("rules", "create"): ("", "Admins only."),
    ("rules", "update"): ("", "Admins only."),
    ("rules", "partial_update"): ("", "Admins only."),
    ("rules", "destroy"): ("", "Admins only. Past interventions of the rule are kept."),
    ("interventions", "list"): ("", "Latest first; filter by status, customer or event."),
    ("interventions", "cancel"): (
        "Cancel an intervention",
        "Stops a scheduled intervention before it runs.",
    ),
    ("interventions", "retry"): ("Retry an intervention", "Runs a failed intervention again."),
    ("alerts", "list"): (
        "",
        "Your alerts, open ones first by priority and recency; filter by state, severity, "
        "customer or interaction.",
    ),
    ("alerts", "read"): ("Mark an alert read", ""),
    ("alerts", "acknowledge"): (
        "Acknowledge an alert",
        "Someone is on it: the alert stays open for the team, marked with who and when.",
    ),
    ("alerts", "resolve"): (
        "Resolve an alert",
        "The customer's issue is handled; survey invitations held for it are sent if still due.",
    ),
    ("forecast-quality", "list"): (
        "Memory forecast quality",
        "How well the forecast of what customers will remember predicts the moments they pick "
        "in survey answers: the AUC and a calibration table by decile, over the answers you "
        "may see. Managers.",
    ),
    ("tasks", "list"): ("", "Your follow-up tasks by due date; filter by open or customer."),
    ("tasks", "done"): ("Mark a task done", ""),
    ("auth", "create"): (
        "Log in: get an API token",
        "Answers a new token and when it expires; the token is shown only in this answer. "
        "After repeated wrong passwords the account is locked for a while (429 with "
        "Retry-After), on this and every other log-in.",
    ),
    ("auth", "logout"): ("Log out: revoke this token", "The token sent with this request."),
    ("auth", "logout_all"): (
        "Log out everywhere: revoke all your tokens",
        "Every API token of the user, including the one sent with this request.",
    ),
}

_VERBS = {
    "list": "List {many}",
    "retrieve": "Get {one}",
    "create": "Create {one}",
    "update": "Replace {one}",
    "partial_update": "Change {one}",
    "destroy": "Delete {one}",
}


def tag_for(prefix: str) -> str | None:
    resource = RESOURCES.get(prefix)
    return resource[0] if resource else None


def summary_for(prefix: str, action: str) -> str | None:
    summary = OPERATIONS.get((prefix, action), ("", ""))[0]
    if summary:
        return summary
    resource = RESOURCES.get(prefix)
    if resource is None:
        return None
    _, one, many = resource
    verb = _VERBS.get(action)
    if verb:
        return verb.format(one=one, many=many)
    return f"{action.replace('_', ' ').capitalize()} {one}"


def description_for(prefix: str, action: str) -> str:
    return OPERATIONS.get((prefix, action), ("", ""))[1]

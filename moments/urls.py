from django.urls import path

from moments.memory import views as memory
from moments.sentiment import views as sentiment

urlpatterns = [
    path("sentiment/status/", sentiment.sentiment_status, name="sentiment-status"),
    path(
        "sentiment/interactions/<int:pk>/badge/", sentiment.sentiment_badge, name="sentiment-badge"
    ),
    path(
        "sentiment/interactions/<int:pk>/correct/",
        sentiment.correct_sentiment,
        name="sentiment-correct",
    ),
    # Memory moments (moments/memory.py)
    path("moments/interactions/<int:pk>/promote/", memory.promote, name="moment-promote"),
    path("moments/<int:pk>/tags/", memory.add_tag, name="moment-tag-add"),
    path(
        "moments/<int:pk>/tags/<int:tag_pk>/remove/",
        memory.remove_tag,
        name="moment-tag-remove",
    ),
    path("moments/<int:pk>/dismiss/", memory.dismiss, name="moment-dismiss"),
    path("customers/<int:pk>/memory/", memory.customer_memory, name="customer-memory"),
    path("moments/journey/", memory.journey_map, name="journey-map"),
    path(
        "moments/journey/<int:stage_pk>/<int:tag_pk>/",
        memory.journey_cell,
        name="journey-cell",
    ),
]

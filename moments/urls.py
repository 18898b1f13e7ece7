from django.urls import path

from moments import memory_views
from moments.sentiment import views

urlpatterns = [
    path("sentiment/status/", views.sentiment_status, name="sentiment-status"),
    path("sentiment/interactions/<int:pk>/badge/", views.sentiment_badge, name="sentiment-badge"),
    path(
        "sentiment/interactions/<int:pk>/correct/",
        views.correct_sentiment,
        name="sentiment-correct",
    ),
    # Memory moments (moments/memory_views.py)
    path("moments/interactions/<int:pk>/promote/", memory_views.promote, name="moment-promote"),
    path("moments/<int:pk>/tags/", memory_views.add_tag, name="moment-tag-add"),
    path(
        "moments/<int:pk>/tags/<int:tag_pk>/remove/",
        memory_views.remove_tag,
        name="moment-tag-remove",
    ),
    path("moments/<int:pk>/dismiss/", memory_views.dismiss, name="moment-dismiss"),
    path("customers/<int:pk>/memory/", memory_views.customer_memory, name="customer-memory"),
    path("moments/journey/", memory_views.journey_map, name="journey-map"),
    path(
        "moments/journey/<int:stage_pk>/<int:tag_pk>/",
        memory_views.journey_cell,
        name="journey-cell",
    ),
]

from django.urls import path

from interventions import views

urlpatterns = [
    path("interventions/", views.queue, name="intervention-queue"),
    path("interventions/<int:pk>/cancel/", views.intervention_cancel, name="intervention-cancel"),
    path("interventions/<int:pk>/retry/", views.intervention_retry, name="intervention-retry"),
    path("alerts/", views.alert_inbox, name="alert-inbox"),
    path("alerts/badge/", views.alert_badge, name="alert-badge"),
    path("alerts/read-all/", views.alert_read_all, name="alert-read-all"),
    path("alerts/<int:pk>/read/", views.alert_read, name="alert-read"),
    path("alerts/<int:pk>/acknowledge/", views.alert_acknowledge, name="alert-acknowledge"),
    path("alerts/<int:pk>/resolve/", views.alert_resolve, name="alert-resolve"),
    path("tasks/", views.task_list, name="task-list"),
    path("tasks/<int:pk>/done/", views.task_done, name="task-done"),
    path("rules/", views.rule_list, name="rule-list"),
    path("rules/<int:pk>/toggle/", views.rule_toggle, name="rule-toggle"),
]

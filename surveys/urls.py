from django.urls import path

from surveys import views

urlpatterns = [
    # Public (no login): the token is the credential.
    path("s/<str:token>/", views.answer, name="survey-answer"),
    path("s/<str:token>/thanks/", views.thanks, name="survey-thanks"),
    path("s/<str:token>/opt-out/", views.opt_out, name="survey-opt-out"),
    # Agents and managers.
    path(
        "surveys/invite/interaction/<int:pk>/",
        views.invite_interaction,
        name="survey-invite-interaction",
    ),
    path("surveys/invite/", views.bulk_invite, name="survey-bulk-invite"),
    path("surveys/report/", views.report, name="survey-report"),
    path("surveys/forecast/", views.forecast_quality, name="forecast-quality"),
    path("surveys/report/answers.csv", views.report_csv, name="survey-report-csv"),
]

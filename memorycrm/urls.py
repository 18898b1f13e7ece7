from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from memorycrm import ops
from memorycrm.api import router
from memorycrm.views import PasswordResetConfirmView, PasswordResetView, time_zone

# Under /api/ an unmatched URL is a JSON 404, like every other API error.
handler404 = "memorycrm.lib.api.page_not_found"
# A refused page keeps the layout and says which role it needs; under /api/ it is JSON.
handler403 = "memorycrm.errors.permission_denied"

urlpatterns = [
    path("", include("customers.urls")),
    path("", include("moments.urls")),
    path("", include("interventions.urls")),
    path("", include("surveys.urls")),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/time-zone/", time_zone, name="time-zone"),
    # Password reset by email (templates/registration/password_reset_*.html).
    path("accounts/password-reset/", PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("admin/", admin.site.urls),
    path("health/", ops.health, name="health"),
    path("metrics", ops.metrics, name="metrics"),
    path("api/v1/", include(router.urls)),
    path("api/v1/auth/", include("rest_framework.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
]

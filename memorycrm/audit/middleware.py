from auditlog.middleware import AuditlogMiddleware
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def _authenticated_user(request: HttpRequest) -> AbstractBaseUser | None:
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


class AuditActorMiddleware(AuditlogMiddleware):
    """django-auditlog's middleware, with the actor looked up when an entry is written rather
    than when the request arrives: the API authenticates tokens inside the view, after every
    middleware has run (DRF then sets the user on the Django request, which this reads)."""

    @staticmethod
    def _get_actor(request: HttpRequest) -> SimpleLazyObject:
        return SimpleLazyObject(lambda: _authenticated_user(request))

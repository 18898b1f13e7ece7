"""API tokens (django-rest-knox): issue one for a user name and password, revoke it (log out).

knox stores only a SHA-512 digest of each token (plus its first 15 characters, to find the
row) and gives each an expiry (settings.REST_KNOX, from API_TOKEN_TTL_HOURS). Its own log-in
view expects a user already authenticated by another scheme; ours takes the credentials in the
body, as DRF's `obtain_auth_token` did, through `authenticate()`, so django-axes' per-account
lockout covers it like every other log-in path. Admins list and revoke tokens in Django admin
(memorycrm/admin.py).
"""

from __future__ import annotations

from django.contrib.auth import authenticate, user_logged_in, user_logged_out
from drf_spectacular.utils import extend_schema
from knox.models import AuthToken
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from memorycrm.lib.api import ERRORS


class CredentialsSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, write_only=True)


class IssuedTokenSerializer(serializers.Serializer):
    token = serializers.CharField(
        help_text="Send it as `Authorization: Token <token>`. Shown only now: the server keeps "
        "only a hash of it."
    )
    expiry = serializers.DateTimeField(help_text="When the token stops working.")


class TokenViewSet(viewsets.GenericViewSet):
    """POST auth/token/ (log in), auth/token/logout/, auth/token/logout-all/."""

    serializer_class = CredentialsSerializer

    def get_permissions(self):
        if self.action in ("logout", "logout_all"):
            return [IsAuthenticated()]
        return [AllowAny()]  # create; and any method not served, so that it answers 405

    @extend_schema(
        request=CredentialsSerializer,
        responses={201: IssuedTokenSerializer, 429: ERRORS["429"]},
    )
    def create(self, request: Request) -> Response:
        credentials = self.get_serializer(data=request.data)
        credentials.is_valid(raise_exception=True)
        # The Django request: django-axes flags a locked account on it, and its middleware
        # turns the flag into the 429 answer.
        user = authenticate(request._request, **credentials.validated_data)
        if user is None:
            raise serializers.ValidationError(
                {"non_field_errors": ["Unable to log in with the given user name and password."]}
            )
        instance, token = AuthToken.objects.create(user=user)
        user_logged_in.send(sender=user.__class__, request=request._request, user=user)
        issued = IssuedTokenSerializer({"token": token, "expiry": instance.expiry})
        return Response(issued.data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    @action(detail=False, methods=["post"])
    def logout(self, request: Request) -> Response:
        if not isinstance(request.auth, AuthToken):
            raise serializers.ValidationError(
                {"detail": "Send the token to revoke as `Authorization: Token <token>`."}
            )
        request.auth.delete()
        user_logged_out.send(
            sender=request.user.__class__, request=request._request, user=request.user
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={204: None})
    @action(detail=False, methods=["post"], url_path="logout-all")
    def logout_all(self, request: Request) -> Response:
        # The user's every token (request.user.auth_token_set, which knox leaves untyped).
        AuthToken.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

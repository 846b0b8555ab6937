"""Authentication of the HOP API: a service account's JWT (from `POST /api/v1/auth/token`) and its right to charge."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from accounts.tokens import HOP_API
from core import errors
from core.api.hop import HopAPIView

CHARGE_PERMISSION = "gateways.charge_card"


class ServiceAccountJWTAuthentication(BaseAuthentication):
    """`Authorization: Bearer <jwt>` from `POST /api/v1/auth/token`: a HOP token of an active service account."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != "bearer" or not raw or " " in raw:
            raise errors.AuthorizationInvalid()
        try:
            token = AccessToken(raw)
        except TokenError:
            raise errors.AuthorizationInvalid() from None
        if token.get("api") != HOP_API:
            raise errors.AuthorizationInvalid()
        user = User.objects.select_related("partner").filter(pk=token.get("sub"), is_active=True, partner__isnull=False).first()
        if user is None or not user.partner.is_active:
            raise errors.AuthorizationInvalid()
        return user, token

    def authenticate_header(self, request):
        return "Bearer"


class CanChargeCards(BasePermission):
    def has_permission(self, request, view):
        user = request.user
        if not isinstance(user, User) or not user.has_perm(CHARGE_PERMISSION):
            raise errors.AuthorizationInvalid()
        return True


class HopView(HopAPIView):
    """Base of every authenticated HOP view: a service account's token, allowed to charge cards."""

    authentication_classes = [ServiceAccountJWTAuthentication]
    permission_classes = [CanChargeCards]
    throttle_classes = []


class ServiceAccountJWTAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ServiceAccountJWTAuthentication
    match_subclasses = True
    name = "hopServiceToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "The jwt of POST /api/v1/auth/token."}

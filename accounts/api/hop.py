"""Authentication of the HOP API: a service account's JWT (from `POST /api/v1/auth/token`) and its right to charge."""

from django.utils.crypto import constant_time_compare
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from accounts import selectors
from accounts.models import User
from accounts.tokens import CREDENTIALS_CLAIM, HOP_API, credentials_stamp
from core import errors
from core.api.hop import HopAPIView


class ServiceAccountJWTAuthentication(BaseAuthentication):
    """`Authorization: Bearer <jwt>` from `POST /api/v1/auth/token`: a HOP token of an active service account of
    an active partner, issued with the account's current password. One indexed query per request, never cached,
    so a password change, a deactivation (of the account or its partner) or a withdrawn permission stops the
    account's tokens at once, as a revoked &Charge key stops its own."""

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
        user = selectors.service_account_get_active(user_id=token.get("sub"))
        if user is None or not constant_time_compare(str(token.get(CREDENTIALS_CLAIM, "")), credentials_stamp(user)):
            raise errors.AuthorizationInvalid()
        return user, token

    def authenticate_header(self, request):
        return "Bearer"


class CanChargeCards(BasePermission):
    """The service account holds `gateways.charge_card`, as read with it by the authentication's one query."""

    def has_permission(self, request, view):
        user = request.user
        if not isinstance(user, User) or not getattr(user, "can_charge_cards", False):
            raise errors.AuthorizationInvalid()
        return True


class HopView(HopAPIView):
    """Base of every authenticated HOP view: a service account's token, allowed to charge cards."""

    authentication_classes = [ServiceAccountJWTAuthentication]
    permission_classes = [CanChargeCards]
    throttle_classes = []

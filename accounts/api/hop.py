"""Authentication of the HOP API: the service-account log-in (guarded like the admin's), the JWT it issues, the
right to charge, and the per-service-account rate limit."""

import math

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from django.conf import settings
from django.utils.crypto import constant_time_compare
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from accounts import selectors, services
from accounts.models import User
from accounts.tokens import CREDENTIALS_CLAIM, HOP_API, credentials_stamp
from core import errors
from core.api.hop import HopAPIView
from core.api.throttling import FixedWindowRateThrottle
from core.locks import advisory_lock


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


class ServiceAccountRateThrottle(FixedWindowRateThrottle):
    """Per-service-account rate limit of the HOP API (SERVICE_ACCOUNT_RATE_LIMIT, e.g. 6000/min), counted by the
    account the authentication found (after it: a request with a stopped token spends nobody's budget)."""

    scope = "service_account"

    def ident(self, request) -> str | None:
        user = request.user
        return str(user.pk) if isinstance(user, User) else None


class HopView(HopAPIView):
    """Base of every authenticated HOP view: a service account's token, allowed to charge cards, within its rate
    limit. Order: token and account (one query) → permission → rate limit → the view."""

    authentication_classes = [ServiceAccountJWTAuthentication]
    permission_classes = [CanChargeCards]
    throttle_classes = [ServiceAccountRateThrottle]


def service_account_log_in(request, *, email: str, password: str) -> tuple[User, str]:
    """`POST /api/v1/auth/token`, guarded against guessing as the admin's log-in is (django-axes, same settings):
    AXES_FAILURE_LIMIT failed log-ins for one account (the e-mail, case-insensitive) from one address lock that
    pair out for AXES_COOLOFF_HOURS, even with the right password; an attempt during the lockout is recorded and
    restarts it (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT); a success clears the pair's failures. Staff see
    and clear lockouts in the admin's Axes pages, or with `manage.py axes_reset_username`.

    The attempts of one pair run one at a time (an advisory lock around check, password and record), so a burst
    of concurrent guesses gets no more password checks than the limit.
    Returns (user, jwt). Raises AuthorizationInvalid, LoginLockedOut(retry_after_seconds).
    """
    http_request = request._request  # axes keeps its per-request state on Django's request
    AxesProxyHandler.update_request(http_request)
    credentials = {settings.AXES_USERNAME_FORM_FIELD: email.strip().lower()}
    pair = f"hop-login:{credentials[settings.AXES_USERNAME_FORM_FIELD]}:{http_request.axes_ip_address}"
    with advisory_lock(pair):
        if not AxesProxyHandler.is_allowed(http_request, credentials):
            # As axes' backend does for the admin: the attempt restarts the cool-off only when so configured.
            http_request.axes_locked_out = not settings.AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT
            _login_failed(http_request, credentials)
            raise errors.LoginLockedOut(_cool_off_seconds(http_request))
        try:
            user, jwt = services.service_account_token(email=email, password=password)
        except errors.AuthorizationInvalid:
            if _login_failed(http_request, credentials):  # this failure reached the limit: locked from now on
                raise errors.LoginLockedOut(_cool_off_seconds(http_request)) from None
            raise
        if settings.AXES_RESET_ON_SUCCESS:
            AxesProxyHandler.reset_attempts(
                username=credentials[settings.AXES_USERNAME_FORM_FIELD], ip_address=http_request.axes_ip_address
            )
    return user, jwt


def _login_failed(http_request, credentials: dict) -> bool:
    """Record a failed log-in with axes; whether the pair is now locked out."""
    AxesProxyHandler.user_login_failed(sender=service_account_log_in, credentials=credentials, request=http_request)
    locked = bool(getattr(http_request, "axes_locked_out", False))
    http_request.axes_locked_out = False  # answered here in HOP's envelope, not by AxesMiddleware's lockout page
    return locked


def _cool_off_seconds(http_request) -> int:
    cool_off = get_cool_off(http_request)
    return max(1, math.ceil(cool_off.total_seconds())) if cool_off else 1


class ServiceAccountJWTAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ServiceAccountJWTAuthentication
    match_subclasses = True
    name = "hopServiceToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "The jwt of POST /api/v1/auth/token."}

"""Authentication of the &Charge partner API: who is calling, whether its API key still holds, and its rate limit.

Every authenticated &Charge view subclasses AndChargeView (its docstring says where the API key is checked).
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from accounts import selectors
from accounts.models import Partner, PartnerStatus
from accounts.tokens import ANDCHARGE_API
from core import errors
from core.api.andcharge import AndChargeAPIView
from core.api.throttling import FixedWindowRateThrottle


class PartnerPrincipal:
    """The caller of the &Charge API: a partner named by the claims of a genuine, unexpired access token.

    `partner` is known once the token's API key has been found active (AndChargeView says when that is asked).
    """

    is_authenticated = True

    def __init__(self, *, partner_code: str, access_key_id: str):
        self.partner_code = partner_code
        self.access_key_id = access_key_id
        self.key_checked = False
        self._partner: Partner | None = None

    def check_key(self) -> None:
        """One indexed query: the token's key is unrevoked, of an active partner, the token's partner.
        Raises AuthorizationInvalid; AccessDenied for a partner still INITIAL (registered, not yet activated)."""
        key = selectors.api_key_get_active(access_key_id=self.access_key_id)
        self.key_checked = True
        if key is None or key.partner.code != self.partner_code:
            raise errors.AuthorizationInvalid()
        if key.partner.status == PartnerStatus.INITIAL:
            raise errors.AccessDenied()
        self._partner = key.partner

    def key_found_active(self, *, partner: Partner | None = None) -> None:
        """A service found the key active inside its own database round trip (the payment), and decided there:
        accepted (`partner` loaded) or refused after the key check (no partner needed to answer the refusal)."""
        self.key_checked = True
        if partner is not None:
            self._partner = partner

    @property
    def partner(self) -> Partner:
        if self._partner is None:
            raise errors.AuthorizationInvalid()
        return self._partner


def _access_token_claims(raw: str) -> PartnerPrincipal:
    """The principal of a genuine, unexpired &Charge access token. Raises AuthorizationInvalid."""
    try:
        token = AccessToken(raw)  # signature, algorithm, expiry, issuer, audience, token_type=access
    except TokenError:
        raise errors.AuthorizationInvalid() from None
    partner_code, access_key_id = token.get("partner"), token.get("kid")
    if token.get("api") != ANDCHARGE_API or not isinstance(partner_code, str) or not isinstance(access_key_id, str):
        raise errors.AuthorizationInvalid()
    if not partner_code or not access_key_id:
        raise errors.AuthorizationInvalid()
    return PartnerPrincipal(partner_code=partner_code, access_key_id=access_key_id)


class PartnerTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <accessToken>`, checked from the token alone (no database): a signed, unexpired
    &Charge access token. None without an Authorization header (the permission then answers 401)."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != "bearer" or not raw or " " in raw:
            raise errors.AuthorizationInvalid()
        return _access_token_claims(raw), None

    def authenticate_header(self, request):
        return "Bearer"


class PartnerJWTAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = PartnerTokenAuthentication
    match_subclasses = True
    name = "partnerAccessToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


class IsPathPartner(BasePermission):
    """The token's partner must be the path's partnerId: another partner's path is ACCESS_DENIED."""

    def has_permission(self, request, view):
        principal = request.user
        if not isinstance(principal, PartnerPrincipal):
            return False
        if principal.partner_code != view.kwargs.get("partner_id"):
            raise errors.AccessDenied()
        return True


class PartnerRateThrottle(FixedWindowRateThrottle):
    """Per-partner rate limit (PARTNER_RATE_LIMIT, e.g. 6000/min), counted by the partner code in the token."""

    scope = "partner"

    def ident(self, request) -> str | None:
        principal = request.user
        return principal.partner_code if isinstance(principal, PartnerPrincipal) else None


class AndChargeView(AndChargeAPIView):
    """Base of every authenticated &Charge view. Order: token → API key → partner scope → rate limit → the view.

    The token is checked from itself (PartnerTokenAuthentication, no database). Whether its API key still holds
    (not revoked, partner active) is asked exactly once per request, never cached, so a revoked key's tokens stop
    at once, and always before any answer other than a 401 can leave:
    - by default, right after authentication: one indexed query (PartnerPrincipal.check_key), which also loads
      `self.partner`;
    - for the methods in `key_checked_by_service` (the payment's POST), by the service inside its own database
      round trip (the view then calls `key_found_active`, for a payment and for a refusal the service decided
      after the key check alike, so a definite 409/404/422 never waits on a second query); a request refused
      before it reaches the service (bad body, another partner's path, rate limit) is checked in
      handle_exception, so 401 still comes first;
    - never when `checks_key` is False (the ping answers from the token alone).
    """

    authentication_classes = [PartnerTokenAuthentication]
    permission_classes = [IsPathPartner]
    throttle_classes = [PartnerRateThrottle]
    checks_key = True
    key_checked_by_service: frozenset[str] = frozenset()

    def perform_authentication(self, request):
        principal = request.user
        if isinstance(principal, PartnerPrincipal) and self.checks_key and request.method not in self.key_checked_by_service:
            principal.check_key()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if len(kwargs.get("user_id", "")) > 100:
            raise errors.ParameterMaxLength("userId", 100)

    def handle_exception(self, exc):
        principal = getattr(self.request, "_user", None)  # never authenticates again
        if (
            isinstance(principal, PartnerPrincipal)
            and self.checks_key
            and not principal.key_checked
            and not isinstance(exc, errors.AuthorizationInvalid)
        ):
            try:
                principal.check_key()
            except Exception as error:  # revoked (401), or the key cannot be checked (database down: 500)
                exc = error
        return super().handle_exception(exc)

    @property
    def partner(self) -> Partner:
        return self.request.user.partner
